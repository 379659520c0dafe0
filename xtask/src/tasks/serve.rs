//! The API served from the dev container with Django's development server, for a browser or a
//! front end: composed as `test` composes the suite's container (`src/` mounted, so the
//! autoreloader sees an edit), with the migrations applied first and the data kept between
//! runs in volumes of the checkout's (`kept`). Ctrl-C removes everything else.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::console::{paint, say};
use crate::flags;
use crate::http;
use crate::machinery::containers::run_attached;
use crate::machinery::dev_container::{self, Data};
use crate::machinery::host::at_a_terminal;
use crate::project::Project;
use crate::runner::Runner;

impl flags::Serve {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        project.check_settings(&self.settings)?;
        run(
            project,
            &Runner::ready(project, dry_run, &[])?,
            &self.settings,
            self.port,
        )
    }
}

/// The port the development server listens on inside its container.
const CONTAINER_PORT: u16 = 8000;
/// How long the URL is waited for before the wait is said to be long.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// Serves until Ctrl-C or the server exits; the result is the server's exit code.
fn run(project: &Project, runner: &Runner, settings: &str, port: u16) -> Result<u8> {
    let engine = runner.engine()?;
    // A local engine publishes on the host's loopback, for this machine alone; a remote one
    // on its host's interfaces, where this machine can reach it.
    let host = engine.host();
    let publish = if engine.is_local() {
        format!("{host}:{port}:{CONTAINER_PORT}")
    } else {
        format!("{port}:{CONTAINER_PORT}")
    };
    port_is_free(&host, port, engine.is_local())?;

    let (container, _) = dev_container::prepare(project, runner, "serve", settings, false, "serving")?;
    let container = dev_container::with_kept_data(project, runner, settings, container)?;
    let container = dev_container::with_services(project, runner, settings, Data::Kept, container)?;

    runner.step(&format!("Applying the migrations with todobackend.settings.{settings}"));
    let migrate = container
        .clone()
        .name(&runner.run_name().container("migrate"))
        .command(["python", "manage.py", "migrate", "--noinput"]);
    let code = run_attached(runner, migrate)?;
    if code != 0 {
        runner.step(&format!(
            "The migrations failed with exit code {code}: nothing is served"
        ));
        return Ok(code);
    }

    let mut server = container
        .publish(&publish)
        // Its lines as they come, not when a buffer fills (stdout is no terminal without one).
        .env("PYTHONUNBUFFERED", "1")
        .command(["python", "manage.py", "runserver", &format!("0.0.0.0:{CONTAINER_PORT}")]);
    // On a terminal a `breakpoint()` in a view stops in pdb there, and Ctrl-C is the server's.
    if at_a_terminal() {
        server = server.terminal();
    }
    runner.step(&format!(
        "Serving todobackend.settings.{settings} on port {port} (Ctrl-C stops it)"
    ));
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if !runner.dry_run() {
            scope.spawn(|| announce_when_answering(&host, port, "/todos", &done));
        }
        let code = run_attached(runner, server);
        done.store(true, Ordering::Relaxed);
        code
    })
}

/// Refuses a port something already listens on, before anything starts: on the loopback of
/// this machine for a local engine (binding it, as docker will), by asking it for a remote one.
fn port_is_free(host: &str, port: u16, local: bool) -> Result<()> {
    let busy = if local {
        matches!(TcpListener::bind((host, port)), Err(err) if err.kind() == ErrorKind::AddrInUse)
    } else {
        http::address(host, port).and_then(http::connect).is_some()
    };
    if busy {
        bail!(
            "port {port} is in use on {host} (another program, or another `cargo xtask serve`): \
             stop it, or serve on another port with `--port N`"
        );
    }
    Ok(())
}

/// Prints the URL once the server answers an HTTP request for it, until `done`.
fn announce_when_answering(host: &str, port: u16, path: &str, done: &AtomicBool) {
    let url = format!("http://{host}:{port}{path}");
    let started = Instant::now();
    let mut said_long = false;
    while !done.load(Ordering::Relaxed) {
        if answers_http(host, port, path) {
            say!("{} {}", paint("1;36", "=>"), paint("1", &format!("Serving at {url}")));
            return;
        }
        if !said_long && started.elapsed() > ANSWER_WITHIN {
            say!("   nothing answers at {url} yet: see the server's output above");
            said_long = true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether an HTTP server answers for `path` at `host:port`. Asked as a browser's CORS
/// preflight, which the CORS middleware answers itself: no view runs for it, so a
/// `breakpoint()` in one stops a request of the developer's, never this question.
fn answers_http(host: &str, port: u16, path: &str) -> bool {
    let headers = [
        &format!("Host: {host}:{port}"),
        &format!("Origin: http://{host}"),
        "Access-Control-Request-Method: GET",
    ];
    http::address(host, port)
        .and_then(|address| http::status(address, "OPTIONS", path, &headers))
        .is_some()
}
