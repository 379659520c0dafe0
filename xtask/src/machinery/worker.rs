//! The warm worker: a dev container of the checkout's own, left running between test runs,
//! whose Python keeps the interpreter and the third-party modules loaded and forks a fresh
//! child per run (`scripts/suite.py`). A run then costs a `docker exec` and the suite, not a
//! container's start and Python's imports.
//!
//! Every run still tests exactly the source on disk: the child imports the application
//! afresh from the mounted `src/` (the worker never imports it), and the worker is replaced
//! whenever what it was started from changes: the dev image (so the requirements, the
//! scripts, the OS image), or the directories it mounts (a `src/` or `target/` made anew).
//! Its network is the checkout's: a run whose settings need services starts them on it, under
//! names of the run's own. (Not `--internal`: Podman 4's then joins no two containers.) Worker and
//! network are the checkout's: labelled with it, listed by `doctor`, removed by `clean`,
//! named for the checkout's path so no other checkout ever reaches them. It ends with its
//! checkout, as build daemons do: once its mounted `src/` or runs' directory is removed, or
//! after `worker_idle_secs` without a run (`suite.py serve`), and `--rm` takes its container;
//! what a checkout that is gone left anyway, `orphans` finds.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use super::cache;
use super::dev_image::{self, Beside};
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, CHECKOUT_LABEL, Exec, Kind, Run};
use crate::fingerprint::Fingerprint;
use crate::project::{Project, random_hex};
use crate::runner::session::RUNS_DIR;
use crate::runner::{READ, Runner};

/// On the worker: a digest of what it was started from (`inputs`); on its network: `network`.
pub const WORKER_LABEL: &str = "todobackend.worker";
/// Where the worker sees the checkout's run directories, where each run's reports go.
const RUNS: &str = "/runs";
/// The worker's client, in the worker: the standard library alone, so it starts in a blink.
const CLIENT: [&str; 4] = ["python3", "-I", "-S", "/usr/local/bin/suite.py"];
/// In a run's directory: there once the run's services proved ready.
const SERVICES_READY: &str = "services-ready";
/// Held while a run looks for the worker and starts it: two runs at once would both start
/// one, and make two networks of the same name (the engine allows that), which neither could use.
const LOCK: &str = "target/xtask/worker.lock";
/// The virtualenv first, as `test.sh` activates it: `docker exec` runs no entrypoint.
const PATH: &str = "/appenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The checkout's worker and its network.
pub struct Worker {
    pub name: String,
    pub network: String,
}

impl Worker {
    pub fn of(project: &Project) -> Worker {
        Worker {
            name: project.checkout_s("worker"),
            network: project.checkout_s("net"),
        }
    }
}

/// The checkout's worker on the current dev image: the image's state and the worker's asked
/// at once (on a warm run both are current, and that is all there is to ask), the image built
/// and the worker started only where they are not.
/// With the images of the services `beside` built meanwhile, where the image is built.
pub fn ensure_current(project: &Project, runner: &Runner, beside: &Beside) -> Result<Worker> {
    let questions = questions(project);
    let mut answers = runner.read_all(&questions, READ)?.into_iter();
    let (image, worker) = (answers.next(), answers.next());
    let (image, worker) = image.zip(worker).context("an answer went missing")?;
    let state = dev_image::state_from(project, runner, &questions[0], image)?;
    let image = dev_image::current_or_built(project, runner, state, beside)?;
    let worker = runner.in_time(&questions[1], worker, READ)?;
    ensure(
        project,
        runner,
        &image,
        worker.ok().then(|| worker.stdout.trim().to_string()),
    )
}

/// What `ensure_current` asks first: whether the dev image is current, and whether the
/// worker runs and what it was started from.
pub fn questions(project: &Project) -> [Cmd; 2] {
    [dev_image::state_question(project), state_question(project)]
}

/// Whether the checkout's worker runs, and what it was started from: `RUNNING|INPUTS`.
fn state_question(project: &Project) -> Cmd {
    docker::container_state_and_label(&Worker::of(project).name, WORKER_LABEL)
}

/// The checkout's worker on the dev image `image`, started now unless it is running on it
/// already. `seen`: its state as a question asked with others found it (`state_question`),
/// taken when it says the worker is current; otherwise it is asked again, the lock held.
fn ensure(project: &Project, runner: &Runner, image: &str, seen: Option<String>) -> Result<Worker> {
    let worker = Worker::of(project);
    let name = &worker.name;
    let runs = project.root.join(RUNS_DIR);
    // Made here, or docker would make it, as root
    fs::create_dir_all(&runs).with_context(|| format!("cannot create {runs}"))?;
    let lock = project.root.join(LOCK);
    let lock = fs::File::create(&lock).with_context(|| format!("cannot create {lock}"))?;
    lock.lock().with_context(|| format!("cannot lock {LOCK}"))?;
    let idle = project.config.worker_idle_secs().to_string();
    let inputs = inputs(&[image, &worker.network, &idle], &project.root.join("src"), &runs)?;
    let running = |state: &Option<String>| state.as_deref() == Some(&format!("true|{inputs}"));
    if running(&seen) {
        return Ok(worker);
    }
    // Another run may have started it since: asked again under the lock
    let state = runner.probe(&state_question(project))?;
    if running(&state) {
        return Ok(worker);
    }
    if let Some(state) = state {
        runner.step(&format!(
            "Replacing the test worker {name}: what it was started from changed"
        ));
        retire(runner, name, state.starts_with("true|"))?;
    } else {
        runner.step(&format!("Starting the test worker {name}"));
    }
    cache::ensure(project, runner)?;
    let checkout = vec![(CHECKOUT_LABEL.to_string(), project.root.to_string())];
    if runner.probe(&docker::network_name(&worker.network))?.is_none() {
        let labels = [checkout.clone(), vec![(WORKER_LABEL.into(), "network".into())]].concat();
        runner.quiet(&docker::create_labelled(Kind::Network, &worker.network, &labels))?;
    }
    let start = Run::new(image)
        .detach()
        .remove_after()
        .name(name)
        .labels(&checkout)
        .labels(&[(WORKER_LABEL.into(), inputs.clone())])
        .network(&worker.network, None)
        .volume(&format!("{}/src:/application", project.root))
        .volume(&format!("{runs}:{RUNS}"))
        .volumes_from(&project.names.cache_container)
        .env("PATH", PATH)
        .env("SUITE_IDLE_SECS", &idle)
        .command(["suite.py", "serve"]);
    runner
        .quiet(&start.into())
        .with_context(|| format!("cannot start the test worker {name}"))?;
    Ok(worker)
}

/// Takes the worker `name` out of the way of a new one. A running one is renamed and told to
/// end once the runs it serves do (it removes itself), so a run in progress in it, another
/// terminal's, goes on; one that is not running is removed.
fn retire(runner: &Runner, name: &str, running: bool) -> Result<()> {
    let retired = format!("{name}-retired-{}", random_hex(3)?);
    if running && runner.status(&docker::rename(name, &retired))? == 0 {
        if runner.status(&stop_taking_runs(&retired).into())? == 0 {
            return Ok(());
        }
        return runner.run(&docker::remove_container(&retired));
    }
    runner.run(&docker::remove_container(name))
}

/// What the worker was started from: the image and network `names`, and the identity of the
/// directories it mounts, which a bind mount keeps seeing even after they were removed and
/// made anew. Their inode and its birth time: ext4 gives a directory made anew the inode of
/// the one just removed.
fn inputs(names: &[&str], src: &Utf8Path, runs: &Utf8Path) -> Result<String> {
    let mut digest = Fingerprint::new();
    for name in names {
        digest.record(b'n', name.as_bytes());
    }
    for dir in [src, runs] {
        let meta = fs::metadata(dir).with_context(|| format!("cannot read {dir}"))?;
        // (A file system that keeps no birth time has the inode alone.)
        let born = meta.created().map_or(0, |born| {
            born.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos())
        });
        digest.record(b'd', format!("{}:{}:{born}", meta.dev(), meta.ino()).as_bytes());
    }
    Ok(digest.hex())
}

/// The suite of run `run`, with `args`, in a child of `worker`: its reports go to `reports`
/// (a directory of the run's, which the worker sees under RUNS).
pub fn suite(worker: &str, run: &str, args: &[String]) -> Exec {
    let mut exec = Exec::new(worker, CLIENT.iter().copied().chain(["fork", run]));
    exec.command.extend(args.iter().cloned());
    exec.env.push(("REPORTS_DIR".into(), format!("{RUNS}/{run}/reports")));
    exec
}

/// The file run `run`'s suite waits for before it sets up its databases, as the worker
/// sees it (`SUITE_SERVICES_READY`): the run writes it once its services proved ready
/// (`services_ready`), so the suite starts while they do.
pub fn services_ready_in_worker(run: &str) -> String {
    format!("{RUNS}/{run}/{SERVICES_READY}")
}

/// Tells the run's suite that its services proved ready: the host's side of
/// `services_ready_in_worker`.
pub fn services_ready(runner: &Runner) -> Result<()> {
    let file = runner.scratch(SERVICES_READY)?;
    fs::write(&file, "").with_context(|| format!("cannot write {file}"))
}

/// Stops run `run`'s child in `worker`: what an interrupted `docker exec` leaves running.
pub fn stop(worker: &str, run: &str) -> Exec {
    Exec::new(worker, CLIENT.iter().copied().chain(["stop", run]))
}

/// Tells `worker` to take no more runs and end with its last one.
fn stop_taking_runs(worker: &str) -> Exec {
    Exec::new(worker, CLIENT.iter().copied().chain(["retire"]))
}

/// The host's side of the run's reports directory, made for the worker to write into.
pub fn reports_dir(runner: &Runner) -> Result<Utf8PathBuf> {
    let dir = runner.scratch("reports")?;
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir}"))?;
    Ok(dir)
}

/// The checkout's workers (a retired one may still be ending) and its network.
pub fn present(project: &Project, runner: &Runner) -> Result<Vec<String>> {
    let filters = [
        &format!("label={CHECKOUT_LABEL}={}", project.root),
        &format!("label={WORKER_LABEL}"),
    ];
    let mut present = Vec::new();
    for kind in [Kind::Container, Kind::Network] {
        let names = runner.probe(&docker::names(kind, &filters.map(String::as_str)))?;
        present.extend(names.unwrap_or_default().lines().map(String::from));
    }
    Ok(present)
}

/// Removes the checkout's workers and their network; whether there was any. A run using
/// them fails, saying so.
pub fn remove(project: &Project, runner: &Runner) -> Result<bool> {
    let present = present(project, runner)?;
    if present.is_empty() {
        return Ok(false);
    }
    let network = Worker::of(project).network;
    let (networks, workers): (Vec<String>, Vec<String>) = present.into_iter().partition(|name| *name == network);
    runner.step(&format!(
        "Removing the test worker {}",
        [&workers[..], &networks[..]].concat().join(", ")
    ));
    if !workers.is_empty() {
        runner.run(&docker::remove_all(Kind::Container, &workers))?;
    }
    if !networks.is_empty() && runner.status(&docker::remove_network(&network))? != 0 {
        // Where a run of the checkout still has a service on it: the next clean takes it
        runner.step("Kept the network: a run in progress uses it");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cmd::Cmd;

    #[test]
    fn a_run_forks_the_suite_in_the_worker_with_its_reports_in_its_own_directory() {
        let cmd: Cmd = suite("tb-main-1a2b3c4d-worker", "tb-main-9f", &["todo.tests".into()]).into();
        assert_eq!(
            cmd.to_string(),
            "docker exec -e REPORTS_DIR=/runs/tb-main-9f/reports tb-main-1a2b3c4d-worker \
             python3 -I -S /usr/local/bin/suite.py fork tb-main-9f todo.tests"
        );
        let cmd: Cmd = stop("tb-main-1a2b3c4d-worker", "tb-main-9f").into();
        assert_eq!(
            cmd.to_string(),
            "docker exec tb-main-1a2b3c4d-worker python3 -I -S /usr/local/bin/suite.py stop tb-main-9f"
        );
    }

    #[test]
    fn a_warm_run_asks_whether_the_dev_image_is_current_and_the_worker_runs_on_it() {
        let project = Project::locate().unwrap();
        let (worker, dev) = (Worker::of(&project).name, &project.names.dev_image);
        assert_eq!(
            state_question(&project).to_string(),
            format!(
                "docker container inspect --format '{{{{.State.Running}}}}|{{{{index .Config.Labels \"todobackend.worker\"}}}}' {worker}"
            )
        );
        assert_eq!(
            dev_image::state_question(&project).to_string(),
            format!(
                "docker image inspect --format '{{{{.Id}}}} {{{{index .Config.Labels \"todobackend.inputs\"}}}}' \
                 {dev} debian:bookworm-slim {}",
                project.names.os_image
            )
        );
    }

    #[test]
    fn the_worker_is_replaced_when_its_image_or_a_mounted_directory_changes() {
        let dir =
            Utf8PathBuf::from(std::env::temp_dir().to_str().unwrap()).join(format!("worker-{}", std::process::id()));
        let (src, runs) = (dir.join("src"), dir.join("runs"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&runs).unwrap();
        let before = inputs(&["sha256:1"], &src, &runs).unwrap();
        assert_eq!(inputs(&["sha256:1"], &src, &runs).unwrap(), before);
        assert_ne!(inputs(&["sha256:2"], &src, &runs).unwrap(), before);
        // A checkout whose src/ was removed and made anew: the old mount would show nothing.
        // Here ext4 gives it the same inode; its birth time differs, once a tick of the
        // kernel's coarse clock (at most 10 ms) has passed, as between a user's two commands.
        fs::remove_dir(&src).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::create_dir_all(&src).unwrap();
        assert_ne!(inputs(&["sha256:1"], &src, &runs).unwrap(), before);
        fs::remove_dir_all(&dir).unwrap();
    }
}
