//! A readiness probe that hangs: cut off at its timeout, and Ctrl-C meanwhile stops the run at once.

use std::fs;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{Checkout, DATABASE_READY_WITHIN, Running, SIGINT, signal_process, wait_until_nothing_left};
use crate::{TEN_S, assert_nothing_left, remaining};

/// The copy's database never proves ready: its probe hangs, with the timeouts.
fn with_a_readiness_probe_that_hangs(copy: &Checkout, timeout_secs: u32) {
    copy.edit("Cargo.toml", |manifest| {
        manifest
            .lines()
            .map(|line| {
                if line.starts_with("ready = '") {
                    "ready = 'sleep 100'".to_string()
                } else if line == "ready_timeout_secs = 60" {
                    format!("ready_timeout_secs = {timeout_secs}")
                } else {
                    line.to_string()
                }
            })
            .map(|line| line + "\n")
            .collect()
    });
    let manifest = fs::read_to_string(copy.root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("ready = 'sleep 100'\n")
            && manifest.contains(&format!("ready_timeout_secs = {timeout_secs}\n")),
        "{manifest}"
    );
}

#[test]
fn a_readiness_probe_that_hangs_is_cut_off_at_its_timeout() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("probe-hangs");
    with_a_readiness_probe_that_hangs(&copy, 5);

    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    let (waiting, _) = run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    let finished = run.finish(Duration::from_secs(60));
    let took = finished.ended - waiting;
    let left = wait_until_nothing_left(&copy, TEN_S);
    let out = finished.output();

    assert!(
        took < Duration::from_secs(7),
        "from `=> Waiting for` to its end took {took:?} ({}), want under 7 s with ready_timeout_secs = 5:\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(out.contains("was not ready after 5 s"), "{out}");
    assert_nothing_left(&left, &copy, "after the run", &out);
}

#[test]
fn ctrl_c_while_the_readiness_probe_hangs_stops_within_2_s_and_starts_no_tests() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("probe-hangs-ctrl-c");
    with_a_readiness_probe_that_hangs(&copy, 60);

    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    std::thread::sleep(Duration::from_secs(1));
    signal_process(run.pid(), SIGINT);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(15));
    let took = finished.ended - sent;
    let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));
    let out = finished.output();

    assert!(
        took <= Duration::from_secs(2),
        "Ctrl-C during the readiness probe: {} {took:?} after it (want exit code 130 within 2 s):\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(130), "{}:\n{out}", finished.how());
    assert!(
        !finished.has_line(|line| line.trim_start().starts_with("=> Running the test suite")),
        "the tests started:\n{out}"
    );
    assert!(
        !finished.has_line(|line| line.trim_start().starts_with("ready ")),
        "the database was reported ready:\n{out}"
    );
    assert_nothing_left(&left, &copy, "10 s after it ended", &out);
}
