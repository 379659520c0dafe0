//! What the bench prints: each figure beside its baselines, the ratios, and each goal met or
//! missed.

use super::figures::*;
use super::names::*;
use crate::console::show;

pub fn print(rounds: usize, r: &Results) {
    show!("\ncargo xtask bench, {rounds} round(s): seconds, min / median");
    let load = |value: Option<f64>| value.map_or("?".into(), |value| format!("{value:.2}"));
    show!(
        "  the machine's load average, first then last: {} then {} (on {} cores)",
        load(r.load.0),
        load(r.load.1),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    show!("  lab's flow:  the lab's Dockerfiles and test.sh, `docker build` then `docker run` each time");
    show!(
        "  native:      coverage run manage.py test + coverage xml on this host, no Docker: a venv, the base settings, both reports"
    );
    show!("  cargo xtask: `cargo xtask test` on the copy, both reports (JUnit, coverage XML)");
    show!(
        "{:<44} {:>15}  {:>15}  {:>15}  {:>6}  {:>8}",
        "scenario",
        "lab's flow",
        "native",
        "cargo xtask",
        "x/lab",
        "x/native"
    );
    let tests = r.tests.map_or(String::new(), |n| format!(", {n} tests"));
    let scaled = r
        .scaled_tests
        .map_or(format!("{SCALE} x the suite"), |n| format!("{n} tests ({SCALE} x)"));
    let rows: Vec<Row> = vec![
        ("first run, no images at all".into(), None, None, &r.from_nothing),
        ("cold (only the OS image)".into(), Some(&r.cold_lab), None, &r.cold),
        (
            format!("warm, after a source edit{tests}"),
            Some(&r.edit_lab),
            Some(&r.edit_native),
            &r.edit,
        ),
        ("warm, no change".into(), Some(&r.unchanged_lab), None, &r.unchanged),
        ("--settings test, warm".into(), None, None, &r.settings_test),
        ("  of which the database got ready in".into(), None, None, &r.ready),
        ("floor: suite in a running container".into(), None, None, &r.floor),
        (format!("requirements change, {}", r.bump), None, None, &r.requirements),
        (format!("{scaled}, serial"), None, Some(&r.scaled_native), &r.scaled),
        (
            format!("{scaled}, --parallel 2"),
            None,
            Some(&r.scaled_parallel_native),
            &r.scaled_parallel,
        ),
        ("`cargo xtask --help`".into(), None, None, &r.help),
        ("xtask build from a clean target".into(), None, None, &r.clean_build),
    ];
    let dash = |t: Option<&Times>| t.map_or(format!("{:>15}", "-"), Times::cell);
    let versus = |t: Option<&Times>, x: &Times, width: usize| match t.map(|t| ratio(x, t)) {
        Some(q) if q.is_finite() => format!("{q:>width$.2}"),
        _ => format!("{:>width$}", "-"),
    };
    let measured = |t: Option<&Times>| t.is_some_and(|t| !t.0.is_empty());
    for (name, lab, native, xtask) in &rows {
        // A part alone (`--only loop`) measures some rows only.
        if !(measured(*lab) || measured(*native) || measured(Some(xtask))) {
            continue;
        }
        show!(
            "{name:<44} {}  {}  {}  {}  {}",
            dash(*lab),
            dash(*native),
            xtask.cell(),
            versus(*lab, xtask, 6),
            versus(*native, xtask, 8)
        );
    }
    scaling(r);
    goals(r);
}

/// How the cost grows with the suite: per test, the fixed cost aside.
pub fn scaling(r: &Results) {
    let (Some(small), Some(large)) = (r.tests, r.scaled_tests) else {
        return;
    };
    if large <= small || r.scaled.0.is_empty() {
        return;
    }
    let added = (large - small) as f64;
    let per_test = |big: &Times, base: &Times| 1000.0 * (big.median() - base.median()) / added;
    show!(
        "\nhow it scales, {small} -> {large} tests: ms per test added (median over median), and per test of the large suite"
    );
    show!("{:<44} {:>15}  {:>15}  {:>8}", "", "native", "cargo xtask", "x/native");
    for (name, native, xtask) in [
        (
            "per test added, serial",
            per_test(&r.scaled_native, &r.edit_native),
            per_test(&r.scaled, &r.edit),
        ),
        (
            "per test, serial",
            1000.0 * r.scaled_native.median() / large as f64,
            1000.0 * r.scaled.median() / large as f64,
        ),
        (
            "per test, --parallel 2",
            1000.0 * r.scaled_parallel_native.median() / large as f64,
            1000.0 * r.scaled_parallel.median() / large as f64,
        ),
    ] {
        show!("{name:<44} {native:>15.2}  {xtask:>15.2}  {:>8.2}", xtask / native);
    }
}

pub fn goals(r: &Results) {
    show!("\ngoals (medians):");
    let seconds = |t: &Times, limit: f64, digits: usize| (t.median(), limit, format!("{:.digits$} s", t.median()));
    let versus_native = ratio(&r.edit, &r.edit_native);
    for (what, (value, limit, shown)) in [
        ("edit->test loop <= 0.5 s", seconds(&r.edit, 0.5, 2)),
        (
            "edit->test loop <= native",
            (versus_native, 1.0, format!("{versus_native:.2} x native")),
        ),
        ("--settings test, warm <= 1.3 s", seconds(&r.settings_test, 1.3, 2)),
        ("requirements change <= 10 s", seconds(&r.requirements, 10.0, 2)),
        ("first run, no images <= 40 s", seconds(&r.from_nothing, 40.0, 1)),
        ("`cargo xtask --help` <= 0.05 s", seconds(&r.help, 0.05, 3)),
        ("clean build of the xtask <= 10 s", seconds(&r.clean_build, 10.0, 1)),
    ] {
        let shown = if value.is_nan() {
            "not measured in this run".into()
        } else {
            shown
        };
        show!("  {} {what:<40} {shown}", verdict(value, limit));
    }
}

/// A goal's verdict: met, missed, or not measured in this run (a part alone).
pub fn verdict(value: f64, limit: f64) -> &'static str {
    if value.is_nan() {
        "-     "
    } else if value <= limit {
        "met   "
    } else {
        "MISSED"
    }
}
