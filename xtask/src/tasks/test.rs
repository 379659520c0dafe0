//! The suite in a throw-away container, with the services its settings need on a private
//! network of the run's own; the reports are copied out to `target/reports/`.
//! Interactive on a terminal (pdb: `--pdb`, a `breakpoint()`), never waiting for input without one.

use std::fs;

use anyhow::{Result, bail};

use super::{at_a_terminal, copy_out_staged, dev_container, put_in_place, run_attached};
use crate::console::say;
use crate::project::{Project, REPORTS_DIR};
use crate::runner::Runner;

/// Where the image's `run-tests.sh` writes junit.xml and coverage.xml.
const CONTAINER_REPORTS: &str = "/reports";
/// What `run-tests.sh` leaves in CONTAINER_REPORTS.
const REPORTS: [&str; 2] = ["junit.xml", "coverage.xml"];

/// Runs the suite; the result is the suite's exit code.
pub fn run(project: &Project, runner: &Runner, settings: &str, baked: bool, args: &[String]) -> Result<u8> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let (container, _) = dev_container::prepare(project, runner, "test", settings, baked || ci, "testing")?;
    let mut container = container.command(["run-tests.sh"]).command(args);
    // On a terminal, pdb (`--pdb`, a `breakpoint()`) reads the person at it; without one it
    // reads EOF and the run goes on.
    if at_a_terminal() {
        container = container.terminal();
    }
    let container = dev_container::with_services(project, runner, settings, false, container)?;

    runner.step(&format!("Running the test suite with todobackend.settings.{settings}"));
    let name = runner.run_name().container("test");
    let code = run_attached(runner, container)?;
    if code != 0 {
        runner.step(&format!("The test run failed with exit code {code}"));
    }
    match reports(project, runner, &name)? {
        Ok(()) => runner.step(&format!("Reports (junit.xml, coverage.xml) are in {REPORTS_DIR}/")),
        Err(problem) if code == 0 && ci => {
            bail!("{problem}\nUnder CI=true a run without its reports fails: CI would archive nothing.")
        }
        Err(problem) => say!("warning: {problem}"),
    }
    Ok(code)
}

/// Puts the run's JUnit and coverage XML in `target/reports/`, whole: what was there before
/// goes, so no report of an earlier run is taken for this one's. `Err` names what is missing
/// and why.
fn reports(project: &Project, runner: &Runner, container: &str) -> Result<Result<(), String>> {
    let staged = match copy_out_staged(runner, container, CONTAINER_REPORTS, REPORTS_DIR)? {
        Ok(Some(staged)) => staged,
        Ok(None) => return Ok(Ok(())),
        Err(problem) => return Ok(Err(problem)),
    };
    let missing: Vec<&str> = REPORTS
        .into_iter()
        .filter(|report| fs::metadata(staged.join(report)).map_or(true, |meta| meta.len() == 0))
        .collect();
    if let Err(problem) = put_in_place(project, runner, &staged, REPORTS_DIR)? {
        return Ok(Err(problem));
    }
    if !missing.is_empty() {
        return Ok(Err(format!(
            "{REPORTS_DIR}/ lacks {}: the test container {container} wrote it empty or not at all \
             (stopped before the suite finished, or the report step failed: see its output above)",
            missing.join(" and ")
        )));
    }
    Ok(Ok(()))
}
