//! Whatever ends a run: SIGKILL, a hang-up, `| head` closing the pipe, Ctrl-C pressed again and
//! again; nothing it made is left 10 s on, the CA bundle it staged included.

use std::fs;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    A_RUN_ENDS_WITHIN, Checkout, DATABASE_READY_WITHIN, Finished, Running, SIGHUP, SIGINT, SIGKILL, run_to_end,
    signal_group, signal_process, wait_until_nothing_left,
};
use crate::{DATABASE_READY, TEN_S, a_run_with_its_database_ready, assert_nothing_left, remaining};

/// Sends `signal` to a run of `copy` once its database is ready; asserts that nothing it made
/// is left 10 s on, and returns how the run ended.
fn signal_a_run_and_find_nothing_left(copy: &Checkout, signal: i32, name: &str) -> Finished {
    let run = a_run_with_its_database_ready(copy);
    signal_process(run.pid(), signal);
    let sent = Instant::now();
    let left = wait_until_nothing_left(copy, TEN_S);
    let finished = run.finish(remaining(Duration::from_secs(15), sent));
    assert_nothing_left(&left, copy, &format!("10 s after {name}"), &finished.output());
    finished
}

#[test]
fn a_sigkilled_run_leaves_nothing_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    signal_a_run_and_find_nothing_left(&Checkout::copy("sigkill"), SIGKILL, "SIGKILL");
}

#[test]
fn a_run_whose_terminal_hangs_up_leaves_nothing_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    let finished = signal_a_run_and_find_nothing_left(&Checkout::copy("sighup"), SIGHUP, "SIGHUP");
    assert_eq!(
        finished.code(),
        Some(129),
        "SIGHUP: {} (want exit code 129):\n{}",
        finished.how(),
        finished.output()
    );
}

#[test]
fn a_run_piped_into_head_exits_quietly_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("head");
    let mut bash = copy.command("bash");
    bash.args([
        "-c",
        r#"set -o pipefail; "$XTASK" test --settings test 2>&1 | head -9; echo "status=${PIPESTATUS[0]}" >&2"#,
    ])
    .env("XTASK", env!("CARGO_BIN_EXE_xtask"));

    let finished = run_to_end(bash, A_RUN_ENDS_WITHIN);
    let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));

    let piped: String = finished.stdout.iter().map(|(_, line)| format!("{line}\n")).collect();
    assert!(
        finished.killed_after.is_none(),
        "the pipeline never ended: {}\n{}",
        finished.how(),
        finished.output()
    );
    let status = finished
        .stderr
        .iter()
        .find_map(|(_, line)| line.strip_prefix("status="))
        .unwrap_or_else(|| panic!("bash printed no status:\n{}", finished.output()))
        .to_string();
    assert!(
        status != "134" && status != "101",
        "the xtask exited {status} (101: a panic, 134: an abort) once `head` closed the pipe; \
         the pipe got:\n{piped}"
    );
    assert!(!piped.contains("panicked"), "the pipe got a panic:\n{piped}");
    assert_nothing_left(&left, &copy, "10 s after the pipeline ended", &piped);
}

#[test]
fn repeated_ctrl_c_never_leaks_a_thing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("ctrl-c");
    for round in 1..=10 {
        let apart = Duration::from_millis(if round % 2 == 0 { 20 } else { 100 });
        let run = a_run_with_its_database_ready(&copy);

        // A terminal sends Ctrl-C to its whole foreground job: the xtask and all it started.
        let first = Instant::now();
        for press in 0..4 {
            if press > 0 {
                std::thread::sleep(apart);
            }
            signal_group(run.pid(), SIGINT);
        }
        let finished = run.finish(remaining(Duration::from_secs(15), first));
        let took = finished.ended - first;
        let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));

        let mut wrong = Vec::new();
        if finished.code() != Some(130) {
            wrong.push(format!("it ended with {} (want exit code 130)", finished.how()));
        }
        if took > Duration::from_secs(15) {
            wrong.push(format!("it ended {took:?} after the first press (want within 15 s)"));
        }
        if !left.is_empty() {
            wrong.push(format!("10 s after it ended, still there:\n  {}", left.join("\n  ")));
        }
        assert!(
            wrong.is_empty(),
            "round {round}, 4 x Ctrl-C {apart:?} apart to the process group of a run in {}:\n{}\nThe run printed:\n{}",
            copy.root().display(),
            wrong.join("\n"),
            finished.output()
        );
    }
}

/// The CA bundles staged in `copy`'s build context (`docker/base/host-ca/*.crt`).
fn staged_ca_bundles(copy: &Checkout) -> Vec<String> {
    let dir = copy.root().join("docker/base/host-ca");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".crt"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_ca_bundle_a_run_stages_is_its_own_and_goes_with_it_when_it_is_sigkilled() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("staged-ca");
    // --baked builds, so the run stages the host's bundle (where the host has one).
    let mut run = Running::start(copy.xtask(&["test", "--baked", "--settings", "test"]));
    run.wait_for_line(DATABASE_READY, DATABASE_READY_WITHIN);
    let printed = run.printed();
    let run_name = support::run_name(&printed);
    let staged = staged_ca_bundles(&copy);
    signal_process(run.pid(), SIGKILL);
    let deadline = Instant::now() + TEN_S;
    let mut left = staged_ca_bundles(&copy);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        left = staged_ca_bundles(&copy);
    }
    let killed = run.finish(Duration::from_secs(5));

    let expected: Vec<String> = if printed.contains("trusting the host's CA bundle") {
        vec![format!("{run_name}.crt")]
    } else {
        Vec::new()
    };
    assert_eq!(staged, expected, "staged while the run was alive:\n{printed}");
    assert!(
        left.is_empty(),
        "10 s after SIGKILL, still staged in {}/docker/base/host-ca: {left:?}\nThe run printed:\n{}",
        copy.root().display(),
        killed.output()
    );
}
