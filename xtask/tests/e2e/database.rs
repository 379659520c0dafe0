//! The test settings' database: started for the run and gone after, a test database of its own
//! (kept with `--keepdb`), two checkouts at once, one that never gets ready, and a run stopped
//! by Ctrl-C or SIGTERM once it is up.

use std::fs;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    A_RUN_ENDS_WITHIN, Checkout, DATABASE_READY_WITHIN, Finished, Running, SIGINT, SIGTERM, run_name, signal_process,
    tests_ran,
};
use crate::{
    assert_the_reports_count_the_tests_that_ran, assert_the_run_left_nothing, assert_the_suite_passed, events_since,
    unix_time, xtask_ok,
};

#[test]
fn the_test_settings_run_against_a_database_that_is_gone_after() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("settings-test");
    let started = unix_time();
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test"]);
    assert_the_suite_passed(&out);
    assert_the_reports_count_the_tests_that_ran(&copy, tests_ran(&out));

    let run = run_name(&out);
    let actions = events_since(
        started,
        &["type=container", &format!("container={run}-db")],
        "{{.Action}}",
    );
    assert!(
        actions.iter().any(|action| action == "start") && actions.iter().any(|action| action == "destroy"),
        "{actions:?}"
    );
    assert_the_run_left_nothing(&run, started, &out);
    // The passwords were fresh and never printed.
    assert!(out.contains("MYSQL_PASSWORD=*** "), "{out}");
    assert!(!out.contains("MYSQL_PASSWORD=password"), "{out}");
}

#[test]
fn keepdb_twice_with_the_test_settings_passes() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("keepdb");
    for _ in 0..2 {
        let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test", "--", "--keepdb"]);
        assert_the_suite_passed(&out);
        assert!(out.contains("Preserving test database for alias 'default'..."), "{out}");
        assert_the_reports_count_the_tests_that_ran(&copy, tests_ran(&out));
    }
}

#[test]
fn the_test_settings_make_a_test_database_of_their_own_and_never_find_one_there() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("test-database");
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test"]);
    assert_the_suite_passed(&out);
    assert!(out.contains("Creating test database for alias 'default'..."), "{out}");
    let complaints: Vec<&str> = out
        .lines()
        .filter(|line| line.contains("database exists") || line.contains("Got an error creating the test database"))
        .collect();
    assert_eq!(complaints, Vec::<&str>::new(), "{out}");
}

#[test]
fn two_checkouts_run_the_database_tests_at_once() {
    let Some(_engine) = support::engine() else { return };
    // Two clones of the project: the same images and pip cache, runs of their own. The pip
    // cache is there before, as it is for two checkouts of one user. (Two first runs making it
    // at once can race: `docker run --name` conflicts before the other's container shows.)
    // Each in the developer's loop, through a warm worker of its own (CI would bake the source).
    let one = Checkout::copy("concurrent-one").env("CI", "false");
    let two = Checkout::beside(&one, "concurrent-two").env("CI", "false");
    xtask_ok(&one, one.root(), &["cache"]);
    let runs = [&one, &two].map(|copy| Running::start(copy.xtask(&["test", "--settings", "test"])));
    let finished: Vec<Finished> = runs.into_iter().map(|run| run.finish(A_RUN_ENDS_WITHIN)).collect();
    let mut names = Vec::new();
    for run in &finished {
        let out = run.output();
        assert_eq!(run.code(), Some(0), "{}:\n{out}", run.how());
        assert_the_suite_passed(&out);
        names.push(run_name(&out));
    }
    assert_ne!(names[0], names[1]);
    // Each has a worker of its own; the first's goes first, as the second's cleanup (which
    // goes first) would find the first's, of the same names, still using their pip cache.
    assert_eq!(support::the_worker(&one).len(), 2);
    assert_eq!(support::the_worker(&two).len(), 2);
    assert_ne!(support::the_worker(&one), support::the_worker(&two));
    xtask_ok(&one, one.root(), &["clean"]);
}

#[test]
fn a_database_that_never_gets_ready_fails_clearly_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("never-ready");
    // The database image, with a server that never starts: the readiness probe is the real one.
    let db = fs::read_to_string(copy.root().join("docker/db/Dockerfile")).unwrap();
    copy.write(
        "docker/db/never-ready.Dockerfile",
        &format!("{db}\nENTRYPOINT [\"sh\", \"-c\", \"echo 'e2e: this server never starts'; exec sleep 600\"]\n"),
    );
    let never_ready = format!("{}-never-ready", copy.prefix());
    copy.edit("Cargo.toml", |manifest| {
        manifest
            .replace(
                &format!("image = \"{}-db\"", copy.prefix()),
                &format!("image = \"{never_ready}\""),
            )
            .replace(
                "dockerfile = \"docker/db/Dockerfile\"",
                "dockerfile = \"docker/db/never-ready.Dockerfile\"",
            )
            .replace("ready_timeout_secs = 60", "ready_timeout_secs = 3")
    });

    let started = unix_time();
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    let (waiting, _) = run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    let finished = run.finish(Duration::from_secs(60));
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(
        finished.ended - waiting < Duration::from_secs(30),
        "{:?} from `=> Waiting for` to the end:\n{out}",
        finished.ended - waiting
    );
    assert!(out.contains("was not ready after 3 s"), "{out}");
    assert!(
        out.contains("e2e: this server never starts"),
        "the log tail is shown:\n{out}"
    );
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

/// Sends `signal` to a run once its database is up: it stops within seconds with `code`,
/// and what it made is gone.
fn a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing(name: &str, signal: i32, code: i32) {
    let copy = Checkout::copy(name);
    let started = unix_time();
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line("s after `docker run`", DATABASE_READY_WITHIN);
    signal_process(run.pid(), signal);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(15));
    let out = finished.output();
    assert!(
        finished.ended - sent < Duration::from_secs(15),
        "signal {signal}: {}:\n{out}",
        finished.how()
    );
    assert_eq!(
        finished.code(),
        Some(code),
        "signal {signal}: {}:\n{out}",
        finished.how()
    );
    assert!(out.contains("interrupted by SIG"), "{out}");
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

#[test]
fn ctrl_c_once_the_database_is_up_stops_the_run_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing("sigint", SIGINT, 130);
}

#[test]
fn sigterm_once_the_database_is_up_stops_the_run_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing("sigterm", SIGTERM, 143);
}
