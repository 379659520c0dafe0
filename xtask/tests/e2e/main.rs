//! End to end, as a newcomer runs it: a real Docker engine, real images, the real Django suite.
//! Each scenario is a test of its own on its own copy of the checkout, under names of its own
//! (`support::Checkout`), so one failure hides nothing, `cargo test --test e2e NAME` runs one,
//! and none touches the checkout's files or the user's images and pip cache. Without an engine
//! these tests say they are skipped; under CI=true that is a failure instead.
//!
//! A story a module: `suite` (the lab's workflow, an edit, a failure, two workers), `database`
//! (the test settings' database, and a run stopped once it is up), `output` (a dry run, colour),
//! `doctor` (and an engine that does not answer), `build` (the wheels), `clean`, `manage`, and
//! `terminal` (a real one: manage's shell, pdb at a breakpoint, Ctrl-C). Here, what they share.

#[path = "../support/mod.rs"]
mod support;

mod build;
mod clean;
mod database;
mod doctor;
mod manage;
mod output;
mod suite;
mod terminal;

use std::fs;
use std::path::Path;
use std::time::Duration;

use support::{A_RUN_ENDS_WITHIN, Checkout, docker_lines, run_to_end, tests_ran};

/// Runs the xtask of `copy` from `cwd` to its end; fails the test unless it exits 0. All it printed.
fn xtask_ok(copy: &Checkout, cwd: &Path, args: &[&str]) -> String {
    let mut xtask = copy.xtask(args);
    xtask.current_dir(cwd);
    let finished = run_to_end(xtask, A_RUN_ENDS_WITHIN);
    assert_eq!(
        finished.code(),
        Some(0),
        "`cargo xtask {}` from {}: {}:\n{}",
        args.join(" "),
        cwd.display(),
        finished.how(),
        finished.output()
    );
    finished.output()
}

/// The suite passed: Django's `OK`, and at least the app's own tests ran.
fn assert_the_suite_passed(out: &str) {
    assert!(tests_ran(out) >= 12, "{out}");
    assert!(out.lines().any(|line| line == "OK"), "{out}");
}

fn assert_the_reports_count_the_tests_that_ran(copy: &Checkout, ran: usize) {
    let reports = copy.root().join("target/reports");
    let junit = fs::read_to_string(reports.join("junit.xml")).expect("target/reports/junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), ran, "{junit}");
    let coverage = fs::read_to_string(reports.join("coverage.xml")).expect("target/reports/coverage.xml");
    assert!(
        coverage.contains("<coverage ") && coverage.contains("todo/views.py"),
        "{coverage}"
    );
}

fn unix_time() -> Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap()
}

/// The engine's events from `since` to now, filtered, one formatted line each.
fn events_since(since: Duration, filters: &[&str], format: &str) -> Vec<String> {
    // To the nanosecond, so a step's events never include the previous step's last second; until
    // the next whole second, so the events of the last instant have been recorded.
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    let until = (unix_time().as_secs() + 1).to_string();
    let mut args = vec!["events", "--since", &since, "--until", &until, "--format", format];
    for filter in filters {
        args.extend(["--filter", filter]);
    }
    docker_lines(&args).unwrap()
}

/// Nothing of `run` is left: no container or network with its label, and no volume its
/// containers mounted (found by the engine's events since `since`) that no container uses now
/// (the pip cache container's volumes, which the test container mounts too, stay, as do the
/// kept wheels).
fn assert_the_run_left_nothing(run: &str, since: Duration, out: &str) {
    let label = format!("label=todobackend.run={run}");
    let containers = docker_lines(&["container", "ls", "--all", "--quiet", "--filter", &label]).unwrap();
    let networks = docker_lines(&["network", "ls", "--quiet", "--filter", &label]).unwrap();
    let mut ids = events_since(since, &["type=container", &label], "{{.Actor.ID}}");
    ids.dedup();
    let mounted: Vec<String> = events_since(
        since,
        &["type=volume", "event=mount"],
        "{{.Actor.ID}} {{.Actor.Attributes.container}}",
    )
    .into_iter()
    .filter_map(|line| {
        let (volume, container) = line.split_once(' ')?;
        ids.iter().any(|id| id == container).then(|| volume.to_string())
    })
    .collect();
    let unused = docker_lines(&["volume", "ls", "--quiet", "--filter", "dangling=true"]).unwrap();
    // The wheels every checkout keeps between builds stay by design
    let volumes: Vec<&String> = unused
        .iter()
        .filter(|volume| mounted.contains(volume) && *volume != "todobackend-wheels")
        .collect();
    assert!(
        !ids.is_empty() && containers.is_empty() && networks.is_empty() && volumes.is_empty(),
        "{run} left containers {containers:?}, networks {networks:?}, volumes {volumes:?} (its containers: {ids:?}):\n{out}"
    );
}
