//! `cargo xtask release`: the course's `make release`. Builds the wheels and the release image
//! (docker/release/), then runs it as production would, on a private network of the run's
//! own: the settings' services (the database), the migrations as a one-off container of the
//! release image, the app, proved healthy on `/health`; then the acceptance tests (acceptance/)
//! from a container of their own, over HTTP, against the app's address on that network. Each
//! container finds its peers' names in its /etc/hosts, with their addresses there, never
//! through the network's DNS server (see `services::address_on`). Their JUnit XML lands in
//! `target/reports/acceptance.xml`; the run's exit code is theirs. With `keep`, the
//! environment stays up, the app published on a loopback port of the host.

use std::fs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, BUILT_IN_LABEL, Build, Run};
use crate::flags;
use crate::machinery::dev_container::Data;
use crate::machinery::dev_image::Beside;
use crate::machinery::lifecycle::KEPT_LABEL;
use crate::machinery::{dev_container, images, lifecycle, services, stack, wheelhouse};
use crate::project::{
    ACCEPTANCE_DIR, ACCEPTED, MIGRATIONS_LABEL, Project, RELEASE_DOCKERFILE, REPORTS_DIR, RunName, random_hex,
};
use crate::runner::Runner;

impl flags::Release {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        project.check_settings(&self.settings)?;
        check(project)?;
        run(
            project,
            &Runner::ready(project, dry_run, &[])?,
            &self.settings,
            self.keep,
        )
    }
}

/// Where the app listens in its container (docker/release/gunicorn.conf.py).
const APP_PORT: &str = "8000";
/// What the acceptance tests and the readiness probe call the app on the run's network.
const APP_HOST: &str = "app";
/// The acceptance tests' module, in ACCEPTANCE_DIR, and its report.
const ACCEPTANCE_MODULE: &str = "test_todo_backend.py";
const ACCEPTANCE_REPORT: &str = "acceptance.xml";
/// How long the app may take from `docker run` to a healthy answer: the goal is 2 s; this is
/// only the bound after which the run fails with the app's log.
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);

/// Runs the release; the result is the acceptance tests' exit code.
fn run(project: &Project, runner: &Runner, settings: &str, keep: bool) -> Result<u8> {
    lifecycle::recover(project, runner, false)?;
    let run = runner.run_name();
    let accepted = project.root.join(ACCEPTED);
    if !runner.dry_run() {
        // Whatever passed before, the image this run builds has not passed yet.
        let _ = fs::remove_file(&accepted);
    }
    // The base image and the settings' services' images, beside the dev image
    let beside = Beside {
        base_image: true,
        ..Beside::services_of(project, settings)
    };
    wheelhouse::build(project, runner, &beside)?;
    images::build_base(project, runner)?;
    let version = Version::of(project, runner)?;
    let image = &project.names.release_image;
    runner.step(&format!("Building the release image {image} ({})", version.version));
    let mut release = release_build(project, &version)?.built_by(runner.builder()?);
    let iidfile = (!runner.dry_run()).then(|| runner.scratch("release.iid")).transpose()?;
    if let Some(iidfile) = &iidfile {
        release = release.iidfile(iidfile.as_str());
    }
    runner.run(&release.into())?;

    // What every container of the release environment is given: the settings, a secret key
    // of the run's own, the hosts it answers to, and what reaches the settings' services.
    let mut labels = run.labels.clone();
    if keep {
        labels.push((KEPT_LABEL.into(), "true".into()));
    }
    let mut app = Run::new(image)
        .labels(&labels)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
        .env("DJANGO_ALLOWED_HOSTS", &format!("{APP_HOST},localhost,127.0.0.1"))
        .secret("DJANGO_SECRET_KEY", &random_hex(32)?);
    // The acceptance tests reach the app over the run's network, services or none.
    if project.config.services_for(settings).is_empty() {
        app = dev_container::on_the_run_s_network(runner, app)?;
    }
    let app = dev_container::with_services(project, runner, settings, Data::Fresh, app)?;

    runner.step("Migrating the database with a one-off container of the release image");
    let migrate = run.container("migrate");
    let migration = app
        .clone()
        .name(&migrate)
        .command(["django-admin", "migrate", "--noinput"]);
    runner.make(&docker::create(migration), docker::remove_container(&migrate))?;
    runner.run(&docker::start_attached(&migrate))?;

    let name = run.container(APP_HOST);
    runner.step(&format!("Starting the app as {name}"));
    let mut serving = app.detach().name(&name).network(&run.name, Some(APP_HOST));
    if keep {
        serving = serving.publish(&format!("127.0.0.1::{APP_PORT}"));
    }
    let started = Instant::now();
    runner.make(&serving.into(), docker::remove_container(&name))?;
    services::wait_until_ready(runner, &name, stack::APP_HEALTHY, started, HEALTHY_WITHIN)?;

    runner.step("Running the acceptance tests against the app over HTTP");
    let tests = run.container("acceptance");
    let url = format!("http://{APP_HOST}:{APP_PORT}/todos");
    let mut acceptance = acceptance_container(project, run, &labels, &url);
    // The app by its address, as the app has its services' (see `services::address_on`):
    // these tests joining the network is what may cut the others off its DNS server.
    if let Some(address) = services::address_on(runner, &name, &run.name)? {
        acceptance = acceptance.host(APP_HOST, &address);
    }
    runner.make(&docker::create(acceptance), docker::remove_container(&tests))?;
    runner.run(&docker::copy_in(ACCEPTANCE_DIR, &tests, "/acceptance"))?;
    let code = runner.status(&docker::start_attached(&tests))?;
    if code != 0 {
        runner.step(&format!("The acceptance tests failed with exit code {code}"));
    }
    if !report(project, runner, &tests)? && code == 0 && std::env::var("CI").as_deref() == Ok("true") {
        bail!("Under CI=true a release without its acceptance report fails: CI would archive nothing.");
    }
    if code == 0
        && let Some(iidfile) = &iidfile
    {
        let id = fs::read_to_string(iidfile).with_context(|| format!("docker build wrote no {iidfile}"))?;
        fs::write(&accepted, id.trim()).with_context(|| format!("cannot write {accepted}"))?;
    }

    if keep {
        let published = runner.probe(&docker::port(&name, &format!("{APP_PORT}/tcp")))?;
        // The services, the app and their network; the one-off containers go.
        let mut kept: Vec<String> = project
            .config
            .services_for(settings)
            .iter()
            .map(|(service, _)| run.container(service))
            .collect();
        kept.extend([name.clone(), run.name.clone()]);
        runner.keep(&kept);
        let address = published
            .as_deref()
            .and_then(|line| line.lines().next())
            .unwrap_or("127.0.0.1:PORT");
        runner.step(&format!(
            "Kept the release environment {} up: the app answers at http://{address}/todos \
             (`cargo xtask clean` removes it)",
            run.name
        ));
    }
    Ok(code)
}

/// The build of the release image on the checkout's base image, its version in its labels.
fn release_build(project: &Project, version: &Version) -> Result<Build> {
    Ok(Build::new(&project.names.release_image, RELEASE_DOCKERFILE)
        .build_arg("BASE_IMAGE", &project.names.base_image)
        .build_arg("VERSION", &version.version)
        .build_arg("REVISION", &version.revision)
        .build_arg("CREATED", &version.created)
        .build_arg("SOURCE", &version.source)
        .label(BUILT_IN_LABEL, project.root.as_str())
        .label(MIGRATIONS_LABEL, &project.migrations_inputs()?))
}

/// The acceptance tests' container: the dev image's Python (it has unittest-xml-reporting),
/// the tests copied in before it starts (`docker cp`, which works on any engine, remote ones
/// included), the report written to /reports.
fn acceptance_container(project: &Project, run: &RunName, labels: &[(String, String)], url: &str) -> Run {
    Run::new(&project.names.dev_image)
        .name(&run.container("acceptance"))
        .labels(labels)
        .network(&run.name, None)
        .env("TODOBACKEND_URL", url)
        .entrypoint("/appenv/bin/python")
        .command([
            format!("/acceptance/{ACCEPTANCE_MODULE}"),
            format!("/reports/{ACCEPTANCE_REPORT}"),
        ])
}

/// Copies the acceptance report out to `target/reports/acceptance.xml`, by a rename, so a
/// reader never sees half of it; the test run's reports beside it stay. Whether there was one.
fn report(project: &Project, runner: &Runner, container: &str) -> Result<bool> {
    let to = format!("{REPORTS_DIR}/{ACCEPTANCE_REPORT}");
    let from = format!("/reports/{ACCEPTANCE_REPORT}");
    if runner.dry_run() {
        runner.run(&docker::copy_out(container, &from, &to))?;
        return Ok(true);
    }
    let staged = runner.scratch(ACCEPTANCE_REPORT)?;
    if runner.status(&docker::copy_out(container, &from, staged.as_str()))? != 0 {
        say!("warning: the acceptance tests wrote no {from}: see their output above");
        return Ok(false);
    }
    let dest = project.root.join(&to);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {parent}"))?;
    }
    fs::rename(&staged, &dest).with_context(|| format!("cannot move the report to {dest}"))?;
    runner.step(&format!("The acceptance report is {to}"));
    Ok(true)
}

/// What the release image says it is (its OCI labels), from git: `git describe --tags
/// --always --dirty`, the commit, when it was built, and where the source is. A checkout
/// without git history gets `unknown`, and says so.
pub struct Version {
    pub version: String,
    pub revision: String,
    pub created: String,
    pub source: String,
}

impl Version {
    pub fn of(project: &Project, runner: &Runner) -> Result<Version> {
        let git = |args: &[&str]| -> Result<Option<String>> {
            let mut all = vec!["-C", project.root.as_str()];
            all.extend(args);
            Ok(runner.probe(&Cmd::new("git", all))?.filter(|out| !out.is_empty()))
        };
        let version = git(&["describe", "--tags", "--always", "--dirty"])?;
        if version.is_none() {
            say!(
                "   {} has no git history: the release is versioned `unknown`",
                project.root
            );
        }
        let source = match git(&["remote", "get-url", "origin"])? {
            Some(url) => url,
            None => format!("file://{}", project.root),
        };
        Ok(Version {
            version: version.unwrap_or_else(|| "unknown".into()),
            revision: git(&["rev-parse", "HEAD"])?.unwrap_or_else(|| "unknown".into()),
            created: rfc3339(SystemTime::now()),
            source,
        })
    }
}

/// `time` as RFC 3339 in UTC (`2026-11-25T03:04:05Z`), as OCI's `created` wants it.
fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Fails early, before anything is built, when the checkout has no acceptance tests.
fn check(project: &Project) -> Result<()> {
    let module = project.root.join(ACCEPTANCE_DIR).join(ACCEPTANCE_MODULE);
    if !module.is_file() {
        bail!("{module} is missing: `cargo xtask release` runs those acceptance tests");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_image_is_built_on_the_base_image_with_its_version_in_build_args() {
        let project = Project::locate().unwrap();
        let version = Version {
            version: "v1.2-3-gabc-dirty".into(),
            revision: "abc".into(),
            created: "2026-11-25T03:04:05Z".into(),
            source: "https://example.com/todobackend.git".into(),
        };
        let cmd: Cmd = release_build(&project, &version).unwrap().into();
        let line = cmd.to_string();
        assert!(
            line.starts_with("docker build -t todobackend-release -f docker/release/Dockerfile --force-rm "),
            "{line}"
        );
        for arg in [
            "--build-arg BASE_IMAGE=todobackend-base",
            "--build-arg VERSION=v1.2-3-gabc-dirty",
            "--build-arg REVISION=abc",
            "--build-arg CREATED=2026-11-25T03:04:05Z",
            "--build-arg SOURCE=https://example.com/todobackend.git",
        ] {
            assert!(line.contains(arg), "{arg} in {line}");
        }
        let migrations = format!("--label {MIGRATIONS_LABEL}={} ", project.migrations_inputs().unwrap());
        assert!(line.contains(&migrations), "{migrations} in {line}");
        assert!(line.ends_with(" ."), "{line}");
    }

    #[test]
    fn the_acceptance_container_runs_the_tests_in_the_dev_images_python_against_the_app() {
        let project = Project::locate().unwrap();
        let run = RunName::example();
        let cmd: Cmd = acceptance_container(&project, &run, &run.labels, "http://app:8000/todos").into();
        assert_eq!(
            cmd.to_string(),
            "docker run --name todobackend-main-abc123-acceptance --label application=todobackend \
             --label todobackend.run=todobackend-main-abc123 --network todobackend-main-abc123 \
             -e TODOBACKEND_URL=http://app:8000/todos --entrypoint /appenv/bin/python todobackend-dev \
             /acceptance/test_todo_backend.py /reports/acceptance.xml"
        );
    }

    #[test]
    fn created_is_rfc3339_in_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(rfc3339(leap_day), "2000-02-29T01:02:03Z");
        let late = UNIX_EPOCH + Duration::from_secs(1_795_835_045);
        assert_eq!(rfc3339(late), "2026-11-28T03:04:05Z");
    }
}
