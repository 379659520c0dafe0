//! The bench's release section: the release image as production runs it, against the
//! development server, on this machine. Its size beside the base image's; start-to-healthy
//! (the database already up, `docker run` to `/health` answering 200) and `docker stop` under
//! load, each round; then a load test of `GET /todos` with 10 items, by wrk on this host against the
//! container's address on the run's bridge network (docker's userland proxy, on a published
//! port, would cost more than the server itself and measure itself): gunicorn in the release
//! image and `manage.py runserver` in the dev image in turn, each round, on the same database.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::figures::Times;
use super::scenarios::Bench;
use super::wrk::{self, Load};
use crate::console::{say, show};
use crate::engine::docker::{self, Run};
use crate::http;
use crate::machinery::dev_container::{self, Data};
use crate::project::{Project, random_hex};
use crate::runner::{READ, Runner};
use crate::signals;

/// Where both servers listen in their containers.
const PORT: u16 = 8000;
/// The name the servers are asked for (`Host:`): the one the release app is allowed.
const APP_HOST: &str = "app";
const ITEMS: usize = 10;
const CONNECTIONS: u32 = 10;
const LOAD_SECONDS: u64 = 10;
/// Both servers get a short load first, not counted: the first requests of each worker pay
/// for its imports and its database connection.
const WARM_UP_SECONDS: u64 = 2;
/// The load `docker stop` is timed under: it starts a second into it.
const STOP_LOAD_SECONDS: u64 = 3;
/// After this the run fails with the server's log; the goal is 2 s.
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);
/// The migrations, then the items the load test lists, by a one-off container of the release
/// image (its entrypoint puts django-admin on PATH).
fn seed_script() -> String {
    format!(
        "django-admin migrate --noinput && django-admin shell -c \
         'from todo.models import TodoItem; \
         TodoItem.objects.bulk_create(TodoItem(title=f\"todo {{n}}\", order=n) for n in range({ITEMS}))'"
    )
}

/// What the section measured.
#[derive(Default)]
pub struct Figures {
    pub release_size: Option<u64>,
    pub base_size: Option<u64>,
    pub healthy: Times,
    pub stop: Times,
    pub gunicorn: Vec<Load>,
    pub runserver: Vec<Load>,
    /// The machine's 1-minute load average before each load test: other work on it shows.
    pub load_averages: Vec<f64>,
    /// Error answers while `docker stop` ran under load: in-flight requests must finish.
    pub non_2xx_while_stopping: u64,
}

/// The load test's tool, looked for before any part runs: its absence found after ten
/// minutes of the other parts would lose their figures.
pub(super) fn check_wrk(runner: &Runner) -> Result<()> {
    if !runner.dry_run() && which::which("wrk").is_err() {
        bail!("the load test needs wrk on PATH: install it (Debian: `apt-get install wrk`), then run this again");
    }
    Ok(())
}

impl Bench<'_> {
    pub(super) fn release(&self, rounds: usize) -> Result<Figures> {
        let names = &self.copy.names;
        self.runner.step(&format!(
            "Release: the wheels, {} and its acceptance tests, by `cargo xtask release` (not timed)",
            names.release_image
        ));
        self.xtask(&["release"])?;
        let mut figures = Figures {
            release_size: self.image_size(&names.release_image)?,
            base_size: self.image_size(&names.base_image)?,
            ..Figures::default()
        };
        // A runner of the copy's own: the environment is named as the copy's runs are, and
        // removed when it goes, whatever happens.
        let runner = Runner::new(self.copy, self.runner.dry_run())?;
        let engine = runner.check_engine()?;
        if !engine.is_local() {
            bail!(
                "the load test runs wrk on this host against the containers' addresses: \
                 it needs a local engine, not {}",
                engine.endpoint
            );
        }
        let env = Environment::start(self.copy, &runner)?;
        // Up all along, idle while gunicorn is loaded: each round loads both servers in turn,
        // so the machine's other work weighs on both alike.
        runner.step("Starting manage.py runserver (dev image) on the same database");
        let runserver = env.serve(
            &runner,
            env.runserver.clone(),
            &runner.run_name().container("runserver"),
            &mut Times::default(),
        )?;
        for round in 1..=rounds {
            runner.step(&format!(
                "Release round {round} of {rounds}: docker run to healthy, GET /todos ({ITEMS} items) \
                 {CONNECTIONS} connections {LOAD_SECONDS} s on gunicorn and on runserver, docker stop"
            ));
            let name = runner.run_name().container(&format!("{APP_HOST}-{round}"));
            let gunicorn = env.serve(&runner, env.release.clone(), &name, &mut figures.healthy)?;
            // Taking turns at going first, as the cold runs do.
            let order = if round % 2 == 1 { [true, false] } else { [false, true] };
            for release in order {
                let (address, loads) = if release {
                    (gunicorn, &mut figures.gunicorn)
                } else {
                    (runserver, &mut figures.runserver)
                };
                figures.load_averages.extend(load_average());
                loads.extend(load(&runner, address)?);
            }
            let (took, during) = stop_under_load(self.copy, &runner, &name, gunicorn)?;
            figures.stop.0.push(took);
            figures.non_2xx_while_stopping += during.map_or(0, |load| load.non_2xx);
        }
        Ok(figures)
    }

    fn image_size(&self, image: &str) -> Result<Option<u64>> {
        Ok(self
            .runner
            .probe(&docker::image_size(image))?
            .and_then(|size| size.parse().ok()))
    }
}

/// The database, migrated and holding the items, and how each server is run against it.
struct Environment {
    release: Run,
    runserver: Run,
}

impl Environment {
    fn start(copy: &Project, runner: &Runner) -> Result<Environment> {
        let names = &copy.names;
        if copy.config.services_for("release").is_empty() {
            bail!("the release settings need no database in Cargo.toml: the load test compares the servers on one");
        }
        let database =
            dev_container::with_services(copy, runner, "release", Data::Fresh, Run::new(&names.release_image))?;
        let release = database
            .clone()
            .env("DJANGO_SETTINGS_MODULE", "todobackend.settings.release")
            .env("DJANGO_ALLOWED_HOSTS", APP_HOST)
            .secret("DJANGO_SECRET_KEY", &random_hex(32)?);
        // As a developer serves it (the test settings: MySQL), without the autoreloader, whose
        // polling of every module would take CPU from the server under test.
        let mut runserver = database
            .env("DJANGO_SETTINGS_MODULE", "todobackend.settings.test")
            .command([
                "python".to_string(),
                "manage.py".into(),
                "runserver".into(),
                "--noreload".into(),
                format!("0.0.0.0:{PORT}"),
            ]);
        runserver.image = names.dev_image.clone();

        runner.step(&format!("Migrating the database and adding {ITEMS} items"));
        let seed = runner.run_name().container("seed");
        runner.make(
            &docker::create(
                release
                    .clone()
                    .name(&seed)
                    .command(["sh".into(), "-c".into(), seed_script()]),
            ),
            docker::remove_container(&seed),
        )?;
        runner.run(&docker::start_attached(&seed))?;
        Ok(Environment { release, runserver })
    }

    /// Starts `server` as `name` and waits for `/health` to answer 200: the time from its
    /// `docker run` goes to `healthy`. Its address on the run's network (none in a dry run).
    fn serve(&self, runner: &Runner, server: Run, name: &str, healthy: &mut Times) -> Result<Option<SocketAddr>> {
        // On the run's network already (`with_services`): reached at its address there.
        let server = server.detach().name(name);
        let started = Instant::now();
        runner.make(&server.into(), docker::remove_container(name))?;
        let address = runner
            .probe(&docker::container_address(name))?
            .and_then(|out| out.lines().find_map(|line| line.trim().parse().ok()))
            .map(|ip| SocketAddr::new(ip, PORT));
        if runner.dry_run() {
            return Ok(None);
        }
        let address = address.with_context(|| format!("{name} has no address on its network"))?;
        let took = healthy_after(runner, name, address, started)?;
        say!("   healthy {:.2} s after `docker run`", took.as_secs_f64());
        healthy.0.push(took);
        Ok(Some(address))
    }
}

/// How long after `started` `/health` at `address` answered 200. Asked every 10 ms, each
/// time on a new connection, as an orchestrator's probe would.
fn healthy_after(runner: &Runner, name: &str, address: SocketAddr, started: Instant) -> Result<Duration> {
    loop {
        let host = format!("Host: {APP_HOST}");
        if http::status(address, "GET", "/health", &[&host]) == Some(200) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > HEALTHY_WITHIN {
            let log = runner.read(&docker::logs_tail(name, 20), READ)?;
            bail!(
                "{name} was not healthy {} s after `docker run`. Its last log lines:\n{}{}",
                HEALTHY_WITHIN.as_secs(),
                log.stdout,
                log.stderr
            );
        }
        std::thread::sleep(Duration::from_millis(10));
        signals::check()?;
    }
}

/// `docker stop` of `name` one second into a load of `STOP_LOAD_SECONDS`, as a rolling update
/// stops a busy server: how long it took, and what wrk saw. The stop runs on a thread with a
/// runner of its own (a runner serves one thread) while this one runs wrk. Once the server is
/// gone wrk's connections fail: socket errors then are expected, error answers never.
fn stop_under_load(
    copy: &Project,
    runner: &Runner,
    name: &str,
    address: Option<SocketAddr>,
) -> Result<(Duration, Option<Load>)> {
    let dry_run = runner.dry_run();
    std::thread::scope(|scope| {
        let stopper = scope.spawn(|| -> Result<Duration> {
            let runner = Runner::new(copy, dry_run)?;
            if !dry_run {
                // Its session (the watchdog) started before the clock, not on it.
                runner.scratch("stop")?;
                std::thread::sleep(Duration::from_secs(1));
            }
            let stopping = Instant::now();
            runner.run(&docker::stop(name))?;
            Ok(stopping.elapsed())
        });
        let report = runner.quiet(&wrk::command(
            &url_of(address),
            APP_HOST,
            CONNECTIONS,
            STOP_LOAD_SECONDS,
        ));
        let took = stopper
            .join()
            .map_err(|_| anyhow::anyhow!("the thread stopping {name} panicked"))??;
        let report = report?;
        let seen = if dry_run { None } else { Some(Load::parse(&report)?) };
        if let Some(seen) = &seen {
            say!(
                "   stopped {:.2} s after `docker stop`, under load: {} error answers; {} socket errors \
                 (connections closed or refused once it stopped)",
                took.as_secs_f64(),
                seen.non_2xx,
                seen.socket_errors
            );
        }
        Ok((took, seen))
    })
}

/// The 1-minute load average of a Linux host, where there is one.
pub(super) fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// `GET /todos` at `address`; a placeholder in a dry run, where the server has none.
fn url_of(address: Option<SocketAddr>) -> String {
    let address = address.map_or_else(|| format!("CONTAINER_ADDRESS:{PORT}"), |address| address.to_string());
    format!("http://{address}/todos")
}

/// A warm-up, then the load the figures come from; none under --dry-run.
fn load(runner: &Runner, address: Option<SocketAddr>) -> Result<Option<Load>> {
    let url = url_of(address);
    runner.quiet(&wrk::command(&url, APP_HOST, CONNECTIONS, WARM_UP_SECONDS))?;
    let report = runner.quiet(&wrk::command(&url, APP_HOST, CONNECTIONS, LOAD_SECONDS))?;
    if runner.dry_run() {
        return Ok(None);
    }
    show!("{}", report.trim_end());
    Load::parse(&report).map(Some)
}

/// The section's figures, and whether each goal is met.
pub fn report(rounds: usize, figures: &Figures) {
    let mb = |bytes: Option<u64>| bytes.map_or(f64::NAN, |bytes| bytes as f64 / 1e6);
    let (release, base) = (mb(figures.release_size), mb(figures.base_size));
    show!("\nthe release image, {rounds} round(s)");
    show!("{:<40} {release:>8.1} MB", "release image");
    show!("{:<40} {base:>8.1} MB  (+{:.1} MB)", "base image", release - base);
    show!(
        "{:<40} {} s",
        "docker run to healthy, min / median",
        figures.healthy.cell()
    );
    show!(
        "{:<40} {} s",
        "docker stop under load, min / median",
        figures.stop.cell()
    );
    show!(
        "{:<40} {:>15}",
        "  error answers meanwhile",
        figures.non_2xx_while_stopping
    );
    show!(
        "\nGET /todos, {ITEMS} items, wrk -c{CONNECTIONS} -t2 -d{LOAD_SECONDS}s from this host to the container's address, \
         medians of {rounds} run(s) each, errors summed"
    );
    let averages = &figures.load_averages;
    if !averages.is_empty() {
        let max = averages.iter().copied().fold(f64::MIN, f64::max);
        let min = averages.iter().copied().fold(f64::MAX, f64::min);
        show!(
            "the machine's load average before them: {min:.2} to {max:.2} (on 2 cores, wrk and the server share them)"
        );
    }
    let gunicorn = Load::median(&figures.gunicorn);
    let runserver = Load::median(&figures.runserver);
    show!(
        "{:<28} {:>10} {:>10} {:>8} {:>8}",
        "server",
        "req/s",
        "p99 ms",
        "socket",
        "non-2xx"
    );
    for (name, load) in [
        ("runserver (dev image)", &runserver),
        ("gunicorn (release image)", &gunicorn),
    ] {
        match load {
            Some(load) => show!(
                "{name:<28} {:>10.1} {:>10.1} {:>8} {:>8}",
                load.requests_per_sec,
                load.p99.as_secs_f64() * 1e3,
                load.socket_errors,
                load.non_2xx
            ),
            None => show!("{name:<28} {:>10}", "-"),
        }
    }
    let (Some(gunicorn), Some(runserver)) = (gunicorn, runserver) else {
        return;
    };
    let ratio = gunicorn.requests_per_sec / runserver.requests_per_sec;
    show!("{:<28} {ratio:>10.2}", "ratio");
    let p99 = gunicorn.p99.as_secs_f64() * 1e3;
    show!("\nrelease goals (medians):");
    for (what, met, figure) in [
        (
            "release image <= base + 30 MB",
            release - base <= 30.0,
            format!("+{:.1} MB", release - base),
        ),
        (
            "healthy <= 2 s after docker run",
            figures.healthy.median() <= 2.0,
            format!("{:.2} s", figures.healthy.median()),
        ),
        (
            "docker stop < 2 s under load, no error",
            figures.stop.median() < 2.0 && figures.non_2xx_while_stopping == 0,
            format!("{:.2} s, {}", figures.stop.median(), figures.non_2xx_while_stopping),
        ),
        ("gunicorn >= 3 x runserver req/s", ratio >= 3.0, format!("{ratio:.2} x")),
        ("gunicorn p99 <= 50 ms", p99 <= 50.0, format!("{p99:.1} ms")),
        (
            "zero errors, both servers",
            gunicorn.errors() + runserver.errors() == 0,
            format!("{} + {}", gunicorn.errors(), runserver.errors()),
        ),
    ] {
        show!("  {} {what:<40} {figure}", if met { "met   " } else { "MISSED" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_migrates_then_adds_the_items_in_one_django_shell() {
        assert_eq!(
            seed_script(),
            "django-admin migrate --noinput && django-admin shell -c 'from todo.models import TodoItem; \
             TodoItem.objects.bulk_create(TodoItem(title=f\"todo {n}\", order=n) for n in range(10))'"
        );
    }
}
