//! `cargo xtask bench`: `cargo xtask test` beside two baselines in one run, over several
//! rounds. The lab's own flow is a fixture (xtask/bench/lab/): its Dockerfiles and test.sh
//! as the first slice had them, built under names of their own, so improving the product
//! never moves the baseline. The native run (`native`) is the same suite with the same reports
//! on this host with no Docker at all. Everything works on a copy of the checkout
//! (`target/bench/`) under names of its own (`todobackend-bench-*`, its OS image too in a
//! whole run): the bench edits sources and removes images and caches, and none of them is the
//! user's. It drives the xtask through its command line only, so it measures whatever
//! `cargo xtask test` does.

mod copy;
mod edits;
mod native;
mod release;
mod report;
mod scenarios;
mod wrk;

use std::time::Duration;

use anyhow::{Context, Result};

use self::copy::*;
use self::native::Native;
use self::report::*;
use self::scenarios::*;
use crate::console::{say, show};
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build, Run};
use crate::flags;
use crate::flags::BenchPart;
use crate::machinery::containers::Temporary;
use crate::machinery::images;
use crate::project::{BASE_DOCKERFILE, DEV_DOCKERFILE, OS_IMAGE_FROM_REGISTRY, Project, random_hex, shell_at};
use crate::runner::Runner;

impl flags::Bench {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        run(project, &Runner::ready(project, dry_run, &[])?, self.rounds, self.only).map(|()| 0)
    }
}

const FIXTURE: &str = "xtask/bench/lab";
/// The copy of the checkout both flows work on, and the prefix of what it makes.
const COPY: &str = "target/bench";
const COPY_NAME: &str = "todobackend-bench";
/// The copy's own OS image, which the first run from nothing removes: never the user's.
const COPY_OS_IMAGE: &str = "todobackend-bench-os:bookworm";
/// How many times larger the scaled suite is than the checkout's: SCALE - 1 copies of each
/// test class of `src/*/tests.py` beside the originals.
const SCALE: usize = 50;
/// Where it is generated, in the copy: a test module Django's discovery finds.
const SCALED_MODULE: &str = "src/todo/tests_scaled.py";
/// What a checkout holds for the xtask to work on.
const CHECKOUT: &[&str] = &["Cargo.toml", ".dockerignore", "docker", "scripts", "src", "acceptance"];
/// The lab's build context, in the copy: its files laid out as the lab had them, with src/.
const LAB_CONTEXT: &str = "target/bench-lab";
const LAB_BASE: &str = "todobackend-bench-lab-base";
const LAB_DEV: &str = "todobackend-bench-lab-dev";
/// The lab's volume container, and its volume.
const LAB_CACHE: &str = "todobackend-bench-lab-cache";
/// The file a round edits (a comment appended), in both flows' copies.
const EDITED: &str = "src/todo/__init__.py";
const FLOOR: &str = "todobackend-bench-floor";
/// Where the xtask is built from nothing, to time that.
const SCRATCH_TARGET: &str = "target/bench-xtask-build";

/// The figures of one scenario, over the rounds.
#[derive(Default)]
struct Times(Vec<Duration>);

impl Times {
    fn min(&self) -> f64 {
        self.0.iter().min().map_or(f64::NAN, Duration::as_secs_f64)
    }

    fn median(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).map_or(f64::NAN, Duration::as_secs_f64)
    }

    fn cell(&self) -> String {
        if self.0.is_empty() {
            return format!("{:>15}", "-");
        }
        format!("{:>6.2} / {:>6.2}", self.min(), self.median())
    }
}

/// `a`'s median over `b`'s.
fn ratio(a: &Times, b: &Times) -> f64 {
    a.median() / b.median()
}

#[derive(Default)]
struct Results {
    from_nothing: Times,
    cold_lab: Times,
    cold: Times,
    edit_lab: Times,
    edit_native: Times,
    edit: Times,
    unchanged_lab: Times,
    unchanged: Times,
    settings_test: Times,
    ready: Times,
    floor: Times,
    /// What the requirements change was, e.g. `sqlparse 0.6.1 -> 0.6.0`.
    bump: String,
    requirements: Times,
    /// The tests the suite ran, as checked out and SCALE times larger.
    tests: Option<usize>,
    scaled_tests: Option<usize>,
    scaled_native: Times,
    scaled: Times,
    scaled_parallel_native: Times,
    scaled_parallel: Times,
    help: Times,
    clean_build: Times,
    /// The machine's 1-minute load average before the first scenario and after the last:
    /// other work on it moves every figure.
    load: (Option<f64>, Option<f64>),
}

/// Runs the bench: every part, or one alone (`--only loop|release`).
fn run(project: &Project, runner: &Runner, rounds: usize, only: Option<BenchPart>) -> Result<()> {
    if only != Some(BenchPart::Loop) {
        release::check_wrk(runner)?;
    }
    let copy = Temporary::new(project.root.join(COPY));
    // Only the whole bench starts from nothing, which needs an OS image of the copy's own;
    // a part alone builds on the shared one, as the user's checkout does.
    copy_checkout(project, &copy.0, only.is_none())?;
    let copy = Project::at(&copy.0)?;
    let bench = Bench {
        runner,
        copy: &copy,
        xtask: std::env::current_exe().context("cannot find the xtask's own executable")?,
    };
    let mut results = Results::default();
    results.load.0 = release::load_average();
    let outcome = match only {
        None => bench.all(project, rounds, &mut results),
        Some(BenchPart::Loop) => bench.warm_loop(project, rounds, &mut results),
        Some(BenchPart::Release) => Ok(()),
    };
    results.load.1 = release::load_average();
    let release = outcome.and_then(|()| match only {
        Some(BenchPart::Loop) => Ok(None),
        _ => bench.release(rounds).map(Some),
    });
    bench.remove_all();
    let release = release?;
    if !runner.dry_run() {
        if only != Some(BenchPart::Release) {
            print(rounds, &results);
        }
        if let Some(release) = release {
            release::report(rounds, &release);
        }
    }
    Ok(())
}

/// One row of the table: the lab's flow, the native run and `cargo xtask`, where measured.
type Row<'a> = (String, Option<&'a Times>, Option<&'a Times>, &'a Times);

#[cfg(test)]
mod tests;
