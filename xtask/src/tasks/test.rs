//! The suite in a throw-away container, with the services its settings need on a private
//! network of the run's own; the reports are copied out to `target/reports/`.

use anyhow::Result;

use super::{cache, copy_out_fresh, dev_image, services};
use crate::docker::{self, Run};
use crate::project::{CACHE_CONTAINER, Project, REPORTS_DIR, RunName};
use crate::runner::Runner;

/// Where the image's `run-tests.sh` writes junit.xml and coverage.xml.
const CONTAINER_REPORTS: &str = "/reports";
/// Where the image keeps the application's source.
const APPLICATION: &str = "/application";

/// Runs the suite; the result is the suite's exit code.
pub fn run(project: &Project, runner: &Runner, settings: &str, baked: bool, args: &[String]) -> Result<u8> {
    let run = project.run_name()?;
    let mount = mounts_source(runner, baked)?;
    let image = dev_image::for_run(project, runner, mount)?;
    cache::ensure(project, runner)?;

    let mut container = test_container(&image, &run, settings, args);
    if mount {
        container = container.volume(&format!("{}/src:{APPLICATION}", project.root));
    }
    let needs = project.config.services_for(settings);
    if !needs.is_empty() {
        runner.step(&format!("Creating the network {}", run.name));
        runner.make(
            &docker::create_network(&run.name, &run.labels),
            docker::remove_network(&run.name),
        )?;
        container = container.network(&run.name, None);
    }
    for (name, service) in needs {
        let started = services::start(project, runner, &run, name, service)?;
        for (key, value) in &started.env {
            container = container.env(key, value);
        }
        for (key, value) in &started.secrets {
            container = container.secret(key, value);
        }
    }

    runner.step(&format!("Running the test suite with todobackend.settings.{settings}"));
    let name = run.container("test");
    runner.make(&docker::create(container), docker::remove_container(&name))?;
    let code = runner.status(&docker::start_attached(&name))?;
    copy_reports(project, runner, &name)?;
    if code != 0 {
        runner.step(&format!("The test run failed with exit code {code}"));
    }
    Ok(code)
}

/// Mounting `src/` over the image's copy saves a build per edit. CI, and remote engines that
/// cannot see this checkout, test the source baked into the image instead.
fn mounts_source(runner: &Runner, baked: bool) -> Result<bool> {
    if baked || std::env::var("CI").as_deref() == Ok("true") {
        return Ok(false);
    }
    let endpoint = runner.probe(&docker::endpoint())?;
    Ok(endpoint.is_some_and(|endpoint| endpoint.starts_with("unix://")))
}

fn test_container(image: &str, run: &RunName, settings: &str, args: &[String]) -> Run {
    Run::new(image)
        .name(&run.container("test"))
        .labels(&run.labels)
        .volumes_from(CACHE_CONTAINER)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
        .command(["run-tests.sh"])
        .command(args)
}

/// Replaces `target/reports/` with the run's JUnit and coverage XML, for CI to archive.
fn copy_reports(project: &Project, runner: &Runner, container: &str) -> Result<()> {
    if copy_out_fresh(project, runner, container, CONTAINER_REPORTS, REPORTS_DIR)? {
        runner.step(&format!("Reports (junit.xml, coverage.xml) are in {REPORTS_DIR}/"));
    } else {
        eprintln!("warning: the test container left no reports in {CONTAINER_REPORTS}");
    }
    Ok(())
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
        let cmd: Cmd = test_container("sha256:1d", &run, "base", &args).into();
        assert_eq!(
            cmd.to_string(),
            "docker run --name todobackend-main-abc123-test --label application=todobackend \
             --label todobackend.run=todobackend-main-abc123 --volumes-from cache \
             -e DJANGO_SETTINGS_MODULE=todobackend.settings.base sha256:1d run-tests.sh todo.tests -v 2"
        );
    }
}
