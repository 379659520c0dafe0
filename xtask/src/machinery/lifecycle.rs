//! What a run leaves when it cannot clean up after itself, found and removed: by its watchdog
//! when the run dies (`watch`), and by the next run, `doctor` or `clean` of the checkout when
//! even the watchdog died (`recover`). How a run starts its watchdog is `runner::session`'s.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::engine::docker::{self, CHECKOUT_LABEL, Kind, RUN_LABEL};
use crate::project::Project;
use crate::runner::session::{DONE, RUNS_DIR, is_alive, remove_files, run_dirs};
use crate::runner::{READ, Runner};
use crate::signals;

/// Set on the containers of an environment a run left up on purpose (`release --keep`): its
/// run is over, but it is not abandoned. `clean` removes it (`remove_kept`), recovery does not.
pub const KEPT_LABEL: &str = "todobackend.kept";
/// How long the watchdog keeps looking after a run died: an engine may still finish making
/// what a killed client asked for.
const SETTLE: Duration = Duration::from_secs(3);
/// The watchdog of run `run`: waits for the run to end, and removes what it left if it
/// died without saying `done`.
pub fn watch(project: &Project, run: &str) -> Result<u8> {
    signals::ignore_all();
    let dir = project.root.join(RUNS_DIR).join(run);
    // Held too, so recovery never takes a run whose watchdog is still at work for dead.
    let _lock = File::open(dir.join("lock")).and_then(|lock| lock.lock_shared().map(|()| lock));
    let mut said = String::new();
    let _ = std::io::stdin().read_to_string(&mut said);
    if said.trim() == DONE {
        return Ok(0);
    }
    // The docker clients the run left running (a build, an attached test container) go
    // first, so they make nothing more.
    signals::kill_group(std::process::id(), signals::SIGTERM);
    let runner = Runner::for_watchdog(project)?;
    let started = Instant::now();
    let mut last_found = started;
    while last_found.elapsed() < SETTLE && started.elapsed() < SETTLE * 3 {
        if remove_run(&runner, run)? {
            last_found = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    remove_files(&project.root, run);
    Ok(0)
}

/// Runs of this checkout whose owner is gone, found in `target/xtask/runs/` and (with
/// `engine`) by the checkout label on the engine: says so and removes what each left.
pub fn recover(project: &Project, runner: &Runner, engine: bool) -> Result<Vec<String>> {
    let (live, dead): (Vec<String>, Vec<String>) = run_dirs(&project.root)
        .into_iter()
        .partition(|run| is_alive(&project.root, run));
    let mut dead: BTreeSet<String> = dead.into_iter().collect();
    if engine {
        let label = format!("label={CHECKOUT_LABEL}={}", project.root);
        let kept = kept_runs(project, runner)?;
        for kind in [Kind::Container, Kind::Network] {
            dead.extend(
                runs_of(runner, kind, &[&label])?
                    .into_iter()
                    .filter(|run| !live.iter().chain(&kept).any(|other| other == run)),
            );
        }
    }
    for run in &dead {
        runner.step(&format!(
            "Run {run} ended without cleaning up after itself (its owner is gone): removing what it left"
        ));
        remove_run(runner, run)?;
        if !runner.dry_run() {
            remove_files(&project.root, run);
        }
    }
    Ok(dead.into_iter().collect())
}

/// The runs of this checkout that left an environment up on purpose (`KEPT_LABEL`).
pub fn kept_runs(project: &Project, runner: &Runner) -> Result<Vec<String>> {
    let checkout = format!("label={CHECKOUT_LABEL}={}", project.root);
    let kept = format!("label={KEPT_LABEL}");
    runs_of(runner, Kind::Container, &[&checkout, &kept])
}

/// The runs (`RUN_LABEL`) of what of one kind matches every filter, each once, sorted. Named
/// first, then inspected: what goes between the two is left out, what stays is read all the
/// same.
fn runs_of(runner: &Runner, kind: Kind, filters: &[&str]) -> Result<Vec<String>> {
    let names = runner.probe(&docker::names(kind, filters))?.unwrap_or_default();
    let names: Vec<String> = names.lines().map(String::from).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let labels = runner.read(&docker::label_values(kind, &names, RUN_LABEL), READ)?;
    let runs: BTreeSet<String> = labels
        .stdout
        .lines()
        .map(str::trim)
        .filter(|run| !run.is_empty())
        .map(String::from)
        .collect();
    Ok(runs.into_iter().collect())
}

/// Removes the environments runs of this checkout kept up (`release --keep`), saying which;
/// whether there were any.
pub fn remove_kept(project: &Project, runner: &Runner) -> Result<bool> {
    let kept = kept_runs(project, runner)?;
    for run in &kept {
        runner.step(&format!(
            "Removing the environment run {run} kept up (`release --keep`)"
        ));
        remove_run(runner, run)?;
    }
    Ok(!kept.is_empty())
}

/// Removes the run's containers (with their anonymous volumes), then its network; whether
/// there was anything to remove.
fn remove_run(runner: &Runner, run: &str) -> Result<bool> {
    let label = format!("label={RUN_LABEL}={run}");
    let mut found = false;
    for kind in [Kind::Container, Kind::Network] {
        let names: Vec<String> = runner
            .probe(&docker::names(kind, &[&label]))?
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if !names.is_empty() {
            found = true;
            // Another reaper may have been quicker: what is gone is fine.
            if runner.status(&docker::remove_all(kind, &names))? != 0 {
                crate::console::say!("warning: could not remove all of {}", names.join(", "));
            }
        }
    }
    Ok(found)
}
