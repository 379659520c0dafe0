//! The suite in a throw-away container, with the services its settings need on a private
//! network of the run's own; the reports are copied out to `target/reports/`.
//! Interactive on a terminal (pdb: `--pdb`, a `breakpoint()`), never waiting for input without one.

use std::fs;

use anyhow::{Result, bail};

use super::{at_a_terminal, cache, copy_out_staged, dev_image, put_in_place, services, start};
use crate::console::say;
use crate::docker::{self, Kind, Run};
use crate::project::{Project, REPORTS_DIR, RunName};
use crate::runner::Runner;
use crate::session;

/// Where the image's `run-tests.sh` writes junit.xml and coverage.xml.
const CONTAINER_REPORTS: &str = "/reports";
/// Where the image keeps the application's source.
const APPLICATION: &str = "/application";
/// What `run-tests.sh` leaves in CONTAINER_REPORTS.
const REPORTS: [&str; 2] = ["junit.xml", "coverage.xml"];

/// Runs the suite; the result is the suite's exit code.
pub fn run(project: &Project, runner: &Runner, settings: &str, baked: bool, args: &[String]) -> Result<u8> {
    session::recover(project, runner, false)?;
    let run = runner.run_name();
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let mount = mounts_source(project, runner, baked || ci, "testing")?;
    let image = dev_image::for_run(project, runner, mount)?;
    cache::ensure(project, runner)?;

    let mut container = test_container(&image, run, &project.names.cache_container, settings, args);
    if mount {
        container = container.volume(&source_mount(project));
    }
    // On a terminal, pdb (`--pdb`, a `breakpoint()`) reads the person at it; without one it
    // reads EOF and the run goes on.
    let terminal = at_a_terminal();
    if terminal {
        container = container.terminal();
    }
    let container = with_services(project, runner, settings, container)?;

    runner.step(&format!("Running the test suite with todobackend.settings.{settings}"));
    let name = run.container("test");
    runner.make(&docker::create(container), docker::remove_container(&name))?;
    let code = start(runner, &name, terminal)?;
    if code != 0 {
        runner.step(&format!("The test run failed with exit code {code}"));
    }
    match reports(project, runner, &name)? {
        Ok(()) => runner.step(&format!("Reports (junit.xml, coverage.xml) are in {REPORTS_DIR}/")),
        Err(problem) if code == 0 && std::env::var("CI").as_deref() == Ok("true") => {
            bail!("{problem}\nUnder CI=true a run without its reports fails: CI would archive nothing.")
        }
        Err(problem) => say!("warning: {problem}"),
    }
    Ok(code)
}

/// `-v` of the checkout's `src/` over the image's copy of the application.
pub(super) fn source_mount(project: &Project) -> String {
    format!("{}/src:{APPLICATION}", project.root)
}

/// Starts the services `settings` need on a network of the run's own, and gives `container`
/// that network and what reaches them (their host names, the secrets it may have).
pub(super) fn with_services(project: &Project, runner: &Runner, settings: &str, mut container: Run) -> Result<Run> {
    let run = runner.run_name();
    let needs = project.config.services_for(settings);
    if !needs.is_empty() {
        runner.step(&format!("Creating the network {}", run.name));
        runner.make(
            &docker::create_labelled(Kind::Network, &run.name, &run.labels),
            docker::remove_network(&run.name),
        )?;
        container = container.network(&run.name, None);
    }
    for (name, service) in needs {
        let started = services::start(project, runner, name, service)?;
        for (key, value) in &started.env {
            container = container.env(key, value);
        }
        for (key, value) in &started.secrets {
            container = container.secret(key, value);
        }
    }
    Ok(container)
}

/// Mounting `src/` over the image's copy saves a build per edit. A `baked` run (`test` under
/// `--baked` or CI), and remote engines that cannot see this checkout, use the source baked
/// into the image instead; `doing` says what runs on it.
pub(super) fn mounts_source(project: &Project, runner: &Runner, baked: bool, doing: &str) -> Result<bool> {
    let engine = runner.engine()?;
    if !engine.is_local() {
        say!(
            "   the engine at {} cannot see this checkout: {doing} the source baked into a fresh image",
            engine.endpoint
        );
        return Ok(false);
    }
    if baked {
        return Ok(false);
    }
    if project.root.as_str().contains(':') {
        say!(
            "   `-v` cannot mount a path with a `:` ({}): {doing} the source baked into a fresh image",
            project.root
        );
        return Ok(false);
    }
    Ok(true)
}

fn test_container(image: &str, run: &RunName, cache: &str, settings: &str, args: &[String]) -> Run {
    Run::new(image)
        .name(&run.container("test"))
        .labels(&run.labels)
        .volumes_from(cache)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
        .command(["run-tests.sh"])
        .command(args)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Cmd;

    #[test]
    fn the_test_container_gets_the_settings_the_cache_and_the_arguments() {
        let run = RunName {
            name: "todobackend-main-abc123".into(),
            labels: vec![("todobackend.run".into(), "todobackend-main-abc123".into())],
        };
        let args = ["todo.tests".into(), "-v".into(), "2".into()];
        let cmd: Cmd = test_container("sha256:1d", &run, "cache", "base", &args).into();
        assert_eq!(
            cmd.to_string(),
            "docker run --name todobackend-main-abc123-test --label application=todobackend \
             --label todobackend.run=todobackend-main-abc123 --volumes-from cache \
             -e DJANGO_SETTINGS_MODULE=todobackend.settings.base sha256:1d run-tests.sh todo.tests -v 2"
        );
    }
}
