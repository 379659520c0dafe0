//! The suite in a throw-away container, with the services its settings need on a private
//! network of the run's own; the reports are copied out to `target/reports/`.
//! Interactive on a terminal (pdb: `--pdb`, a `breakpoint()`), never waiting for input without one.

use std::fs;

use anyhow::{Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::flags;
use crate::machinery::containers::{copy_out_staged, put_in_place, run_attached};
use crate::machinery::dev_container::Data;
use crate::machinery::dev_image::{self, Beside};
use crate::machinery::host::{at_a_terminal, invoking_user, user_questions};
use crate::machinery::services::Network;
use crate::machinery::{dev_container, worker};
use crate::project::{Project, REPORTS_DIR};
use crate::runner::Runner;

impl flags::Test {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        project.check_settings(&self.settings)?;
        let ahead = if self.baked { Vec::new() } else { asked_first(project) };
        let runner = Runner::ready(project, dry_run, &ahead)?;
        run(project, &runner, &self.settings, self.baked, &self.args)
    }
}

/// Where the image's `suite.py` writes junit.xml and coverage.xml (REPORTS_DIR).
const CONTAINER_REPORTS: &str = "/reports";
/// What `suite.py` leaves in the reports directory.
const REPORTS: [&str; 2] = ["junit.xml", "coverage.xml"];

/// Runs the suite; the result is the suite's exit code. Where `src/` is mounted, in a child
/// of the checkout's warm worker; otherwise (baked) in a container of the run's own.
fn run(project: &Project, runner: &Runner, settings: &str, baked: bool, args: &[String]) -> Result<u8> {
    let ci = ci();
    let mounted = dev_container::source_mounted(project, runner, baked || ci, "testing")?;
    let terminal = at_a_terminal();
    let (code, staged) = if mounted {
        in_the_worker(project, runner, settings, args, terminal)?
    } else {
        let image = dev_image::for_run(project, runner, mounted, &Beside::services_of(project, settings))?;
        in_a_container(project, runner, &image, mounted, settings, args, terminal)?
    };
    if code != 0 {
        runner.step(&format!("The test run failed with exit code {code}"));
    }
    let outcome = match staged {
        Ok(Some(staged)) => reports(project, runner, &staged)?,
        Ok(None) => Ok(()),
        Err(problem) => Err(problem),
    };
    match outcome {
        Ok(()) => runner.step(&format!("Reports (junit.xml, coverage.xml) are in {REPORTS_DIR}/")),
        Err(problem) if code == 0 && ci => {
            bail!("{problem}\nUnder CI=true a run without its reports fails: CI would archive nothing.")
        }
        Err(problem) => say!("warning: {problem}"),
    }
    Ok(code)
}

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// What a run in the worker asks first (is the dev image current, does the worker run on it,
/// who is running this), where `src/` is likely to be mounted: not under CI=true, nor with
/// DOCKER_HOST naming an engine elsewhere.
fn asked_first(project: &Project) -> Vec<Cmd> {
    let elsewhere = std::env::var("DOCKER_HOST").is_ok_and(|host| !host.is_empty() && !host.starts_with("unix://"));
    if ci() || elsewhere {
        return Vec::new();
    }
    [worker::questions(project), user_questions()].concat()
}

fn running(runner: &Runner, settings: &str) {
    runner.step(&format!("Running the test suite with todobackend.settings.{settings}"));
}

/// Where a run's reports wait to be put in place: `Ok(None)` in a dry run, `Err` why not.
type Staged = Result<Option<Utf8PathBuf>, String>;

/// The suite forked by the warm worker, with the settings' services on its network; it
/// writes the reports into the run's directory. Without a terminal the suite starts first
/// and the services meanwhile: it imports the application and finds its tests while they
/// start, and waits until the run has proved them ready (`SUITE_SERVICES_READY`) before it
/// sets up its databases. On a terminal (`docker exec -it` holds it, in raw mode), they are
/// proved ready first.
fn in_the_worker(
    project: &Project,
    runner: &Runner,
    settings: &str,
    args: &[String],
    terminal: bool,
) -> Result<(u8, Staged)> {
    let worker = worker::ensure_current(project, runner, &Beside::services_of(project, settings))?;
    let network = Network::Shared {
        network: &worker.network,
        worker: &worker.name,
    };
    let (services, reach) = dev_container::plan_services(project, runner, settings, Data::Fresh, network)?;
    let run = &runner.run_name().name;
    let staged = if runner.dry_run() {
        None
    } else {
        Some(worker::reports_dir(runner)?)
    };
    let mut suite = worker::suite(&worker.name, run, args);
    suite.env.push((
        "DJANGO_SETTINGS_MODULE".into(),
        format!("todobackend.settings.{settings}"),
    ));
    suite.env.extend(reach.env);
    suite.secrets.extend(reach.secrets);
    if !reach.addresses.is_empty() {
        suite.env.push(("SUITE_WAIT_FOR".into(), reach.addresses.join(",")));
    }
    let (uid, gid) = invoking_user(runner)?;
    if uid != 0 {
        // The child becomes this user: the reports, and anything else it writes, are theirs
        suite.user = Some(format!("{uid}:{gid}"));
        suite.env.push(("HOME".into(), "/tmp".into()));
    }
    let stop = worker::stop(&worker.name, run);
    if terminal || services.is_empty() {
        for service in services {
            service.start(runner)?;
        }
        running(runner, settings);
        if terminal {
            suite.terminal = true;
            return Ok((runner.interactive(&suite.into())?, Ok(staged)));
        }
        let code = runner.wait(runner.background(&suite.into(), stop.into())?)?;
        return Ok((code, Ok(staged)));
    }
    suite
        .env
        .push(("SUITE_SERVICES_READY".into(), worker::services_ready_in_worker(run)));
    runner.step(&format!(
        "Starting the test suite with todobackend.settings.{settings}: it waits until its services are ready"
    ));
    let suite = runner.background(&suite.into(), stop.into())?;
    for service in services {
        service.start(runner)?;
    }
    if !runner.dry_run() {
        worker::services_ready(runner)?;
    }
    running(runner, settings);
    Ok((runner.wait(suite)?, Ok(staged)))
}

/// The suite in a container of the run's own, with the settings' services beside it; the
/// reports copied out of it.
fn in_a_container(
    project: &Project,
    runner: &Runner,
    image: &str,
    mounted: bool,
    settings: &str,
    args: &[String],
    terminal: bool,
) -> Result<(u8, Staged)> {
    let container = dev_container::prepare_on(project, runner, image, mounted, "test", settings)?;
    let mut container = container.command(["suite.py", "run"]).command(args);
    // On a terminal, pdb (`--pdb`, a `breakpoint()`) reads the person at it; without one it
    // reads EOF and the run goes on.
    if terminal {
        container = container.terminal();
    }
    let container = dev_container::with_services(project, runner, settings, Data::Fresh, container)?;
    running(runner, settings);
    let name = runner.run_name().container("test");
    let code = run_attached(runner, container)?;
    let staged = copy_out_staged(runner, &name, CONTAINER_REPORTS, REPORTS_DIR)?;
    Ok((code, staged))
}

/// Puts the run's JUnit and coverage XML, `staged`, in `target/reports/`, whole: what was
/// there before goes, so no report of an earlier run is taken for this one's. `Err` names
/// what is missing and why.
fn reports(project: &Project, runner: &Runner, staged: &Utf8Path) -> Result<Result<(), String>> {
    let missing: Vec<&str> = REPORTS
        .into_iter()
        .filter(|report| fs::metadata(staged.join(report)).map_or(true, |meta| meta.len() == 0))
        .collect();
    if let Err(problem) = put_in_place(project, runner, staged, REPORTS_DIR)? {
        return Ok(Err(problem));
    }
    if !missing.is_empty() {
        return Ok(Err(format!(
            "{REPORTS_DIR}/ lacks {}: the test run wrote it empty or not at all \
             (stopped before the suite finished, or the report step failed: see its output above)",
            missing.join(" and ")
        )));
    }
    Ok(Ok(()))
}
