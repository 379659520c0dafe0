//! The dev container as the tasks that run the application compose it (`test`, `manage`,
//! `serve`): the dev image, pip's cache, the settings, `src/` mounted where the engine can see
//! this checkout, and the settings' services on a private network of the run's own.

use anyhow::{Result, bail};

use super::cache;
use super::dev_image::{self, Beside};
use super::kept;
use super::lifecycle;
use super::services::{self, Network, Planned, Started};
use crate::console::say;
use crate::engine::docker::{self, Kind, Run};
use crate::project::{Project, RunName};
use crate::runner::Runner;

/// Where the image keeps the application's source.
const APPLICATION: &str = "/application";

/// The run's dev container `<run>-<role>` with `settings`, its command still to give: dead
/// runs recovered first, the dev image made current and the cache made. `baked`: the source
/// baked into the image even where `src/` could be mounted; `doing` says what runs on it.
/// The second value: whether `src/` is mounted.
pub fn prepare(
    project: &Project,
    runner: &Runner,
    role: &str,
    settings: &str,
    baked: bool,
    doing: &str,
) -> Result<(Run, bool)> {
    let (image, mount) = image(project, runner, settings, baked, doing)?;
    let container = prepare_on(project, runner, &image, mount, role, settings)?;
    Ok((container, mount))
}

/// `prepare`'s container on the dev image `image`, as `image` gave it: `mount`, `src/` over
/// the image's copy.
pub fn prepare_on(
    project: &Project,
    runner: &Runner,
    image: &str,
    mount: bool,
    role: &str,
    settings: &str,
) -> Result<Run> {
    cache::ensure(project, runner)?;
    let container = container(image, runner.run_name(), &project.names.cache_container, settings, role);
    Ok(if mount {
        container.volume(&format!("{}/src:{APPLICATION}", project.root))
    } else {
        container
    })
}

/// The dev image a run uses, dead runs recovered first, and whether `src/` is mounted over
/// its copy (see `prepare`); the images of `settings`' services built meanwhile where it is
/// built.
fn image(project: &Project, runner: &Runner, settings: &str, baked: bool, doing: &str) -> Result<(String, bool)> {
    let mount = source_mounted(project, runner, baked, doing)?;
    let beside = Beside::services_of(project, settings);
    Ok((dev_image::for_run(project, runner, mount, &beside)?, mount))
}

/// Whether a run mounts `src/` over the image's copy (see `prepare`), dead runs recovered
/// first.
pub fn source_mounted(project: &Project, runner: &Runner, baked: bool, doing: &str) -> Result<bool> {
    lifecycle::recover(project, runner, false)?;
    mounts_source(project, runner, baked, doing)
}

fn container(image: &str, run: &RunName, cache: &str, settings: &str, role: &str) -> Run {
    Run::new(image)
        .name(&run.container(role))
        .labels(&run.labels)
        .volumes_from(cache)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
}

/// Which data a run's application and services work on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Throw-away: services start afresh, on a tmpfs (`test`, `release`, `manage --fresh`).
    Fresh,
    /// The data `serve` keeps in volumes of the checkout's (`kept`), served by this run: a
    /// service another run already serves on it is refused, never started twice (`serve`).
    Kept,
    /// The same data, and where another run serves it (a `serve` in progress), its services
    /// joined rather than started (`manage`).
    Shared,
}

/// The kept SQLite file's volume (where `settings` keep their data in a directory,
/// DJANGO_DATA_DIR) mounted into `container`, made if need be.
pub fn with_kept_data(project: &Project, runner: &Runner, settings: &str, container: Run) -> Result<Run> {
    let Some(data) = project.config.data_of(settings) else {
        return Ok(container);
    };
    let volume = project.data_volume(settings, None);
    kept::ensure(runner, &volume)?;
    Ok(container
        .volume(&format!("{}:{data}", volume.name))
        .env("DJANGO_DATA_DIR", data))
}

/// Starts the services `settings` need on a network of the run's own, and gives `container`
/// that network and what reaches them (their host names, in its /etc/hosts with their
/// addresses, and the secrets it may have). Their data as `data` says: joined services are
/// reached on the network of the run that serves them, and none is started.
pub fn with_services(
    project: &Project,
    runner: &Runner,
    settings: &str,
    data: Data,
    mut container: Run,
) -> Result<Run> {
    let (planned, mut started) = plan_services(project, runner, settings, data, Network::Run)?;
    let joined: Vec<String> = planned
        .iter()
        .filter_map(|service| service.joins().map(String::from))
        .collect();
    match joined.first() {
        None if !planned.is_empty() => container = on_the_run_s_network(runner, container)?,
        None => {}
        Some(network) if joined.len() == planned.len() => container = container.network(network, None),
        Some(network) => bail!(
            "some of the services of todobackend.settings.{settings} run in {network} on the kept data, \
             others do not: stop that run (Ctrl-C in its terminal), or use `--fresh`"
        ),
    }
    for service in planned {
        started.hosts.extend(service.start(runner)?);
    }
    for (key, value) in &started.env {
        container = container.env(key, value);
    }
    for (key, value) in &started.secrets {
        container = container.secret(key, value);
    }
    // By address, not through the network's DNS (see `services::address_on`).
    for (host, address) in &started.hosts {
        container = container.host(host, address);
    }
    Ok(container)
}

/// The services `settings` need on `network`, not started yet (`Planned::start`), and what
/// the application will need to reach them, all together.
pub fn plan_services(
    project: &Project,
    runner: &Runner,
    settings: &str,
    data: Data,
    network: Network,
) -> Result<(Vec<Planned>, Started)> {
    let mut planned = Vec::new();
    let mut all = Started::default();
    for (name, service) in project.config.services_for(settings) {
        let kept = (data != Data::Fresh && service.data.is_some()).then(|| project.data_volume(settings, Some(name)));
        let serving = match &kept {
            Some(volume) => services::serving_on(project, runner, name, volume)?,
            None => None,
        };
        let service = match (serving, kept.as_ref()) {
            (Some(serving), Some(volume)) if data == Data::Shared => {
                services::join(name, service, runner, volume, serving)?
            }
            (Some(serving), Some(volume)) => bail!(
                "{} already serves the data kept in {} (another `cargo xtask serve` or `manage` of this \
                 checkout): a second server must not open it. Stop that run, or serve on other settings",
                serving.container,
                volume.name
            ),
            _ => services::plan(project, runner, name, service, kept.as_ref(), network)?,
        };
        all.env.extend(service.reach.env.iter().cloned());
        all.secrets.extend(service.reach.secrets.iter().cloned());
        all.addresses.extend(service.reach.addresses.iter().cloned());
        planned.push(service);
    }
    Ok((planned, all))
}

/// Makes the run's private network and puts `container` on it.
pub fn on_the_run_s_network(runner: &Runner, container: Run) -> Result<Run> {
    let run = runner.run_name();
    runner.step(&format!("Creating the network {}", run.name));
    runner.make(
        &docker::create_labelled(Kind::Network, &run.name, &run.labels),
        docker::remove_network(&run.name),
    )?;
    Ok(container.network(&run.name, None))
}

/// Mounting `src/` over the image's copy saves a build per edit. A `baked` run, and remote
/// engines that cannot see this checkout, use the source baked into the image instead.
fn mounts_source(project: &Project, runner: &Runner, baked: bool, doing: &str) -> Result<bool> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cmd::Cmd;

    #[test]
    fn the_dev_container_gets_the_run_s_name_and_labels_the_cache_and_the_settings() {
        let run = RunName {
            name: "todobackend-main-abc123".into(),
            labels: vec![("todobackend.run".into(), "todobackend-main-abc123".into())],
        };
        let cmd: Cmd = container("sha256:1d", &run, "cache", "test", "manage")
            .command(["python", "manage.py", "migrate"])
            .into();
        assert_eq!(
            cmd.to_string(),
            "docker run --name todobackend-main-abc123-manage --label application=todobackend \
             --label todobackend.run=todobackend-main-abc123 --volumes-from cache \
             -e DJANGO_SETTINGS_MODULE=todobackend.settings.test sha256:1d python manage.py migrate"
        );
    }
}
