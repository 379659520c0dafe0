//! The services a settings module needs (see `config`), one container each on the run's
//! private network, started and proved ready before the application runs.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use camino::Utf8Path;

use super::images::{self, BuildBeside, OsImage, State};
use crate::config::Service;
use crate::console::say;
use crate::engine::docker::{self, Build, CHECKOUT_LABEL, Kind, RUN_LABEL, Run};
use crate::project::{DataVolume, INPUTS_LABEL, Project, random_hex};
use crate::runner::session::{self, RUNS_DIR};
use crate::runner::{READ, Runner};
use crate::signals;

/// The network services join, and how the application finds them there.
#[derive(Clone, Copy)]
pub enum Network<'a> {
    /// The run's own, which `with_services` makes: a service answers to its name (`db`).
    Run,
    /// The checkout's worker's, which concurrent runs share: a service answers to its name
    /// and the run's (`db-1a2b3c`). One that can listen on another port (`listen_env`) shares
    /// the worker's network namespace instead, on a port of the run's own: a container that
    /// joins a namespace starts a quarter of a second sooner than one that joins a network.
    Shared { network: &'a str, worker: &'a str },
}

/// What the application's container needs to reach started services.
#[derive(Default)]
pub struct Started {
    pub env: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    /// `HOST:PORT` where each answers that says its `port`.
    pub addresses: Vec<String>,
    /// On the run's own network, each service's host name and its address there, for the
    /// application's /etc/hosts (see `address_on`).
    pub hosts: Vec<(String, String)>,
}

/// A service about to start: its container, and what the application needs to reach it,
/// known before it starts.
pub struct Planned {
    name: String,
    image: String,
    container: String,
    /// `None` for a service joined where another run runs it (`join`).
    start: Option<Run>,
    ready: Option<(String, Duration)>,
    /// Where a service that keeps its data keeps its secrets, when they are new (`kept::remember`).
    remember: Option<(String, Vec<String>)>,
    /// Its host name and the network to find its address on, once it runs (`address_on`).
    pinned: Option<(String, String)>,
    pub reach: Started,
}

/// `service` as `name` on `network`, its image made and its secrets chosen, to start (and
/// wait until it is ready) with `Planned::start`. With `kept`, a service that keeps data
/// (`data`) keeps it in that volume, with its secrets; otherwise its data directory is a
/// tmpfs: a throw-away database's DDL costs no disk, which other work on the machine can
/// make ten times slower.
pub fn plan(
    project: &Project,
    runner: &Runner,
    name: &str,
    service: &Service,
    kept: Option<&DataVolume>,
    network: Network,
) -> Result<Planned> {
    ensure_image(project, runner, service)?;
    let run = runner.run_name();
    let container = run.container(name);
    let keys: Vec<String> = service
        .secrets
        .iter()
        .chain(&service.service_secrets)
        .cloned()
        .collect();
    let kept = kept.zip(service.data.as_deref());
    let known = match kept {
        Some((volume, data)) => super::kept::secrets(runner, volume, &service.image, data, &keys)?,
        None => None,
    };
    let all_secrets = match &known {
        Some(known) => known.clone(),
        None => keys
            .iter()
            .map(|key| Ok((key.clone(), random_hex(16)?)))
            .collect::<Result<Vec<_>>>()?,
    };
    let env: Vec<(String, String)> = service.env.clone().into_iter().collect();

    let mut start = Run::new(&service.image).detach().name(&container).labels(&run.labels);
    let mut port = service.port;
    let host = match (network, &service.listen_env, port) {
        (Network::Shared { worker, .. }, Some(listen_env), Some(_)) => {
            let own = port_of_its_own(project, runner)?;
            start = start
                .network(&docker::namespace_of(worker), None)
                .env(listen_env, &own.to_string());
            port = Some(own);
            "127.0.0.1".to_string()
        }
        (Network::Run, _, _) => {
            start = start.network(&run.name, Some(name));
            name.to_string()
        }
        (Network::Shared { network, .. }, _, _) => {
            // Short, as a host name must be (63 characters), and the run's: `db-1a2b3c`
            let host = format!("{name}-{}", run.name.rsplit('-').next().unwrap_or_default());
            start = start.network(network, Some(&host));
            host
        }
    };
    match (kept, &service.data) {
        (Some((volume, data)), _) => start = start.volume(&format!("{}:{data}", volume.name)),
        (None, Some(data)) => start = start.tmpfs(data),
        (None, None) => {}
    }
    for (key, value) in &env {
        start = start.env(key, value);
    }
    for (key, value) in &all_secrets {
        start = start.secret(key, value);
    }
    let remember = match (kept, &known) {
        (Some((_, data)), None) => Some((data.to_string(), keys)),
        _ => None,
    };

    Ok(Planned {
        name: name.into(),
        image: service.image.clone(),
        container,
        start: Some(start),
        ready: service
            .ready
            .clone()
            .map(|ready| (ready, Duration::from_secs(service.ready_timeout_secs))),
        remember,
        // Only on the run's own network: the worker, on the checkout's, was started before
        // the service, with its /etc/hosts made
        pinned: matches!(network, Network::Run).then(|| (host.clone(), run.name.clone())),
        reach: reach(service, env, all_secrets, &host, port),
    })
}

/// What the application needs to reach `service` as `host` on `port`: its `env`, the host
/// and port by the names the service gives them, and the secrets it may see.
fn reach(
    service: &Service,
    mut env: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    host: &str,
    port: Option<u16>,
) -> Started {
    env.extend(service.host_env.iter().map(|key| (key.clone(), host.to_string())));
    if let (Some(key), Some(port)) = (&service.port_env, port) {
        env.push((key.clone(), port.to_string()));
    }
    // The service's own (`service_secrets`) stay with it.
    let secrets = secrets
        .into_iter()
        .filter(|(key, _)| service.secrets.contains(key))
        .collect();
    let addresses = port.map(|port| format!("{host}:{port}")).into_iter().collect();
    Started {
        env,
        secrets,
        addresses,
        hosts: Vec::new(),
    }
}

/// A service another run of the checkout runs on the data kept in a volume: its container,
/// and the run's network it answers on by its name.
pub struct Serving {
    pub container: String,
    pub network: String,
}

/// The running service `name` of another run of this checkout whose data directory is the
/// volume `kept` (a `serve`'s database), if there is one. Found by the volume and the run's
/// labels: the service container is `<run>-<name>`, on the run's network `<run>`.
pub fn serving_on(project: &Project, runner: &Runner, name: &str, kept: &DataVolume) -> Result<Option<Serving>> {
    let filters = [
        format!("label={CHECKOUT_LABEL}={}", project.root),
        format!("volume={}", kept.name),
        "status=running".to_string(),
    ];
    let filters: Vec<&str> = filters.iter().map(String::as_str).collect();
    let found = runner
        .probe(&docker::names(Kind::Container, &filters))?
        .unwrap_or_default();
    let names: Vec<String> = found.lines().map(String::from).collect();
    if names.is_empty() {
        return Ok(None);
    }
    let runs = runner.read(&docker::label_values(Kind::Container, &names, RUN_LABEL), READ)?;
    Ok(names
        .into_iter()
        .zip(runs.stdout.lines().map(str::trim))
        .find(|(container, run)| !run.is_empty() && *container == format!("{run}-{name}"))
        .map(|(container, run)| Serving {
            container,
            network: run.to_string(),
        }))
}

/// `service` as `name` where another run serves it on the data kept in `kept` (`serving_on`),
/// joined rather than started: a second server must never open the same data directory.
/// The application reaches it by name on that run's network, with the kept secrets.
pub fn join(name: &str, service: &Service, runner: &Runner, kept: &DataVolume, serving: Serving) -> Result<Planned> {
    let data = service.data.as_deref().expect("a kept service has a data directory");
    let keys: Vec<String> = service.secrets.clone();
    let Some(secrets) = super::kept::read_secrets(runner, kept, &service.image, data, &keys)? else {
        bail!(
            "{} is still starting on the data kept in {} (its passwords are not recorded yet): try again in a moment",
            serving.container,
            kept.name
        );
    };
    let env: Vec<(String, String)> = service.env.clone().into_iter().collect();
    Ok(Planned {
        name: name.into(),
        image: service.image.clone(),
        container: serving.container.clone(),
        start: None,
        ready: None,
        remember: None,
        pinned: Some((name.to_string(), serving.network.clone())),
        reach: reach(service, env, secrets, name, service.port),
    })
}

impl Planned {
    /// The network of the run whose service this joins (`join`), if it is one.
    pub fn joins(&self) -> Option<&str> {
        match (&self.start, &self.pinned) {
            (None, Some((_, network))) => Some(network),
            _ => None,
        }
    }

    /// Starts the service and waits until it is ready; its host name and its address on the
    /// run's own network, where it is on it, for the application's /etc/hosts.
    pub fn start(self, runner: &Runner) -> Result<Option<(String, String)>> {
        let container = &self.container;
        let Some(start) = self.start else {
            runner.step(&format!(
                "Joining {} ({container}, running on the kept data)",
                self.name
            ));
            let (host, network) = self.pinned.expect("a joined service is on its run's network");
            return Ok(address_on(runner, container, &network)?.map(|address| (host, address)));
        };
        runner.step(&format!("Starting {} ({}) as {container}", self.name, self.image));
        let started = Instant::now();
        runner.make(&start.into(), docker::remove_container(container))?;
        if let Some((ready, timeout)) = &self.ready {
            wait_until_ready(runner, container, ready, started, *timeout)?;
        }
        if let Some((data, keys)) = &self.remember {
            super::kept::remember(runner, container, data, keys)?;
        }
        let Some((host, network)) = self.pinned else {
            return Ok(None);
        };
        Ok(address_on(runner, container, &network)?.map(|address| (host, address)))
    }
}

/// A port for a service in the worker's network namespace, which concurrent runs of the
/// checkout share: one of 10000, below the ports the kernel picks for connections (32768 and
/// up), and none that another live run of the checkout took (each notes its own, PORTS in
/// its directory).
fn port_of_its_own(project: &Project, runner: &Runner) -> Result<u16> {
    let taken: Vec<u16> = session::live_runs(&project.root)
        .iter()
        .filter_map(|run| fs::read_to_string(project.root.join(RUNS_DIR).join(run).join(PORTS)).ok())
        .flat_map(|ports| ports.lines().filter_map(|port| port.parse().ok()).collect::<Vec<_>>())
        .collect();
    let port = loop {
        let port = 20000 + u16::from_str_radix(&random_hex(2)?, 16)? % 10000;
        if !taken.contains(&port) {
            break port;
        }
    };
    if !runner.dry_run() {
        let file = runner.scratch(PORTS)?;
        let mut ports = fs::OpenOptions::new().create(true).append(true).open(&file)?;
        writeln!(ports, "{port}").with_context(|| format!("cannot write {file}"))?;
    }
    Ok(port)
}

/// In a run's directory: the ports its services took in the worker's network namespace.
const PORTS: &str = "ports";

/// How often a service's readiness probe runs until it succeeds: a database starts in a few
/// tenths of a second, so each hundredth waited counts. The probe repeats inside the service's
/// container, where a refused connection costs a few milliseconds (a `docker exec` costs
/// tens), for about REPORT_EVERY at most at a time.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// How often a run says it is still waiting for a service.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// `container`'s address on `network`, for its peers' /etc/hosts (`Run::host`): a peer that
/// has it never asks the network's DNS server for the name. That server is the network's
/// gateway, and netavark before 1.9 (rootful Podman's network stack) leaves its bridge the
/// lowest hardware address of the interfaces on it, as the kernel does, so the gateway's
/// changes whenever a container joins or leaves; the containers already there reach it
/// again only once their ARP entry for it expires, 15 to 45 s later (the acceptance tests
/// joining cut the app off its database's name: requests timed out). Containers reach each
/// other directly, whatever the bridge's address. `None` under --dry-run, or where the
/// engine gives no IP address (the name then goes to DNS as before).
pub fn address_on(runner: &Runner, container: &str, network: &str) -> Result<Option<String>> {
    if runner.dry_run() {
        return Ok(None);
    }
    let address = runner.probe(&docker::container_address_on(container, network))?;
    Ok(address.filter(|address| address.parse::<std::net::IpAddr>().is_ok()))
}

/// Builds the service's image from its Dockerfile when the engine lacks it, or has one made
/// of another OS image or another version of the Dockerfile's directory.
fn ensure_image(project: &Project, runner: &Runner, service: &Service) -> Result<()> {
    ensure_built(project, runner, &service.image, service.dockerfile.as_deref())
}

/// Builds `image` from `dockerfile` (on the OS image) when the engine lacks it or has it
/// older than the Dockerfile's directory or the OS image; an image with no Dockerfile is
/// left to docker (pulled).
pub fn ensure_built(project: &Project, runner: &Runner, image: &str, dockerfile: Option<&str>) -> Result<()> {
    let Some(dockerfile) = to_build(project, runner, image, dockerfile)? else {
        return Ok(());
    };
    let os = images::os_image(project, runner)?;
    let build = image_build(project, image, dockerfile, &os)?;
    images::build_on_os(project, runner, "the image", build, &os, None).map(drop)
}

/// The images of `services` the engine lacks or has older than what they are made of, built
/// on `os` beside the development image's build (see `dev_image::Beside`).
pub fn build_beside(
    project: &Project,
    runner: &Runner,
    services: &[&Service],
    os: &OsImage,
) -> Result<Vec<BuildBeside>> {
    let mut started = Vec::new();
    for service in services {
        if let Some(dockerfile) = to_build(project, runner, &service.image, service.dockerfile.as_deref())? {
            let build = image_build(project, &service.image, dockerfile, os)?;
            started.push(images::build_on_os_beside(
                project,
                runner,
                "the image",
                build,
                os,
                None,
            )?);
        }
    }
    Ok(started)
}

/// `image`'s Dockerfile, where it is to be built: the engine lacks it, or has it older than
/// the Dockerfile's directory or the OS image.
fn to_build<'a>(
    project: &Project,
    runner: &Runner,
    image: &str,
    dockerfile: Option<&'a str>,
) -> Result<Option<&'a str>> {
    let Some(dockerfile) = dockerfile else {
        return Ok(None);
    };
    if runner.made(image) {
        return Ok(None);
    }
    let context = image_context(dockerfile);
    let inputs = |os_image_id: &str| project.image_inputs(&[context], os_image_id, None);
    match images::image_state(project, runner, image, inputs)? {
        State::Current(_) => return Ok(None),
        State::Stale => say!("   {image} is older than {context}: rebuilding it"),
        State::Missing => {}
    }
    Ok(Some(dockerfile))
}

/// The build of `image` from `dockerfile` on `os`, labelled with what it is made of.
fn image_build(project: &Project, image: &str, dockerfile: &str, os: &OsImage) -> Result<Build> {
    let inputs = project.image_inputs(&[image_context(dockerfile)], &os.id, None)?;
    Ok(Build::new(image, dockerfile).label(INPUTS_LABEL, &inputs))
}

/// The directory of `dockerfile`: what its image is made of, with the OS image.
fn image_context(dockerfile: &str) -> &str {
    Utf8Path::new(dockerfile).parent().map_or(".", Utf8Path::as_str)
}

/// Runs `ready` in the container until it succeeds. Fails with the container's last log
/// lines when it exits or `timeout` passes first, counted from `started`: its `docker run`.
/// A probe that hangs is cut off when the time is up.
pub fn wait_until_ready(
    runner: &Runner,
    container: &str,
    ready: &str,
    started: Instant,
    timeout: Duration,
) -> Result<()> {
    runner.step(&format!(
        "Waiting for {container} to accept queries (at most {} s)",
        timeout.as_secs()
    ));
    let tries = u32::try_from(REPORT_EVERY.as_millis() / PROBE_EVERY.as_millis()).unwrap_or(1);
    let probe = docker::exec_until(container, ready, PROBE_EVERY, tries);
    say!("$ {probe}");
    if runner.dry_run() {
        return Ok(());
    }
    let deadline = started + timeout;
    let mut next_report = REPORT_EVERY;
    loop {
        // A probe that hangs is cut off at the deadline; the loop in the container ends within
        // REPORT_EVERY when it keeps failing (a client killed leaves it running)
        let left = deadline.saturating_duration_since(Instant::now());
        if !left.is_zero() && runner.read(&probe, left)?.ok() {
            say!("   ready {:.2} s after `docker run`", started.elapsed().as_secs_f64());
            return Ok(());
        }
        let why = if Instant::now() >= deadline {
            format!("was not ready after {} s", timeout.as_secs())
        } else if runner.probe(&docker::container_running(container))?.as_deref() != Some("true") {
            "exited before it was ready".to_string()
        } else {
            if started.elapsed() >= next_report {
                say!("   still waiting ({} s)", next_report.as_secs());
                next_report += REPORT_EVERY;
            }
            std::thread::sleep(PROBE_EVERY);
            signals::check()?;
            continue;
        };
        let log = runner.read(&docker::logs_tail(container, 20), READ)?;
        bail!(
            "the service container {container} {why}: `{ready}` never succeeded. Its last log lines:\n{}{}\n\
             Check the service's image and settings in [workspace.metadata.todobackend.services] of Cargo.toml",
            log.stdout,
            log.stderr
        );
    }
}
