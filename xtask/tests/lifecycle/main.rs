//! The lifecycle of what a test run makes on the engine, end to end on a real engine: whatever
//! ends a run (SIGKILL, a hang-up, a closed pipe, Ctrl-C pressed again and again, a probe or an
//! engine that never answers), nothing of it stays behind for long, and nothing of anyone
//! else's is touched. Each test works on its own copy of the checkout and finds what its runs
//! made only by that copy's label. Without an engine they say SKIPPED; under CI=true they fail.
//!
//! A story a module: `signals` (what ends a run, and what it staged), `probe` (a readiness probe
//! that hangs), `engine` (one that never answers, a context that does not exist), `clean`
//! (beside another checkout's run and a stranger's container; a dead run found by `doctor`),
//! `reports` (two runs at once, a missing one). Here, what they share.

#[path = "../support/mod.rs"]
mod support;

mod clean;
mod engine;
mod probe;
mod reports;
mod signals;

use std::time::{Duration, Instant};

use support::{Checkout, DATABASE_READY_WITHIN, Running};

/// The line a run prints once its database answers a real query.
const DATABASE_READY: &str = "s after `docker run`";

/// The deadline for what a stopped run made to be gone.
const TEN_S: Duration = Duration::from_secs(10);

/// What is left of `deadline` counted from `since`.
fn remaining(deadline: Duration, since: Instant) -> Duration {
    deadline.saturating_sub(since.elapsed())
}

/// Starts `test --settings test` in `copy` and waits until its database is ready.
fn a_run_with_its_database_ready(copy: &Checkout) -> Running {
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line(DATABASE_READY, DATABASE_READY_WITHIN);
    run
}

fn assert_nothing_left(left: &[String], copy: &Checkout, when: &str, output: &str) {
    assert!(
        left.is_empty(),
        "{when}, still labelled todobackend.checkout={}:\n  {}\nThe run printed:\n{output}",
        copy.root().display(),
        left.join("\n  ")
    );
}
