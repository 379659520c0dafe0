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
mod deploy;
mod edits;
mod figures;
mod names;
mod native;
mod release;
mod report;
mod scenarios;
mod wrk;

use anyhow::{Context, Result};

use self::copy::*;
use self::figures::*;
use self::names::*;
use self::report::*;
use self::scenarios::*;
use crate::flags;
use crate::flags::BenchPart;
use crate::machinery::containers::Temporary;
use crate::project::Project;
use crate::runner::Runner;

impl flags::Bench {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        run(project, &Runner::ready(project, dry_run, &[])?, self.rounds, self.only).map(|()| 0)
    }
}

/// Runs the bench: every part but the deploy, or one alone (`--only loop|release|deploy`).
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
    if only == Some(BenchPart::Deploy) {
        let figures = bench.deploy();
        bench.remove_all();
        if let Some(figures) = figures? {
            deploy::report(&figures);
        }
        return Ok(());
    }
    let mut results = Results::default();
    results.load.0 = release::load_average();
    let outcome = match only {
        None => bench.all(project, rounds, &mut results),
        Some(BenchPart::Loop) => bench.warm_loop(project, rounds, &mut results),
        Some(BenchPart::Release | BenchPart::Deploy) => Ok(()),
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

#[cfg(test)]
mod tests;
