//! The bench's deploy section (`--only deploy`): `cargo xtask deploy` of the copy's release
//! onto a real 3-node swarm built on this machine (`scripts/swarm-lab.sh`, hence root), under
//! wrk through the manager's edge all along, in windows of a few seconds each, so a window's
//! p99 and errors say when they happened. A rolling update (its errors, its worst window's p99
//! beside the worst before it, the time to every replica on the new version), a release whose
//! health fails (errors, deploy's exit and time, the old version serving on), the database's
//! task restarted, and a worker lost (when its app tasks run elsewhere, errors in the first
//! 5 s and after). Items made first are counted after each. All of it goes at the end.

mod report;

pub use report::report;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use camino::Utf8PathBuf;

use super::scenarios::Bench;
use super::wrk::{self, Load};
use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build};
use crate::http;
use crate::project::random_hex;
use crate::runner::{LONG, READ, Runner};
use crate::signals;

/// The port the edge publishes on every node (`deploy`'s default).
const PORT: u16 = 8080;
const REPLICAS: usize = 3;
const CONNECTIONS: u32 = 4;
/// One wrk run: short, so the windows place what they saw in time.
const WINDOW_SECONDS: u64 = 2;
/// The load before the update, the baseline of its p99.
const BEFORE_SECONDS: u64 = 10;
/// A lost node's first window: the goal allows failures in it, none after.
const CUT_SECONDS: u64 = 5;
/// The load goes on after the lost node's tasks run elsewhere, to see the edge answer.
const AFTER_SECONDS: u64 = 10;
const ITEMS: usize = 3;
/// Bounds only, so a broken run fails instead of hanging.
const RESCHEDULED_WITHIN: Duration = Duration::from_secs(120);
const SERVING_WITHIN: Duration = Duration::from_secs(120);

/// The version the update deploys, and the one whose `/health` never answers (it listens on
/// a port nobody asks), each `FROM` the published release.
const VARIANTS: [(&str, &str); 2] = [
    ("v2", "LABEL todobackend.version=v2"),
    (
        "broken",
        r#"CMD ["gunicorn", "--config", "/etc/todobackend/gunicorn.conf.py", "--bind", "0.0.0.0:8001", "todobackend.wsgi"]"#,
    ),
];

/// What the section measured.
#[derive(Default)]
pub struct Figures {
    pub before: Vec<Load>,
    pub update: Vec<Load>,
    pub update_took: Duration,
    pub rollback: Vec<Load>,
    pub rollback_took: Duration,
    pub rollback_code: u8,
    /// The app's running images after the rollback are the ones before the failed release.
    pub old_serves: bool,
    pub db_restarted_in: Duration,
    pub lost: Vec<Load>,
    /// From the cut until every app task runs on the other nodes.
    pub rescheduled_in: Option<Duration>,
    /// The items made first that were listed after each step.
    pub kept: Vec<(&'static str, usize)>,
}

/// The lab, removed (`down`) when this goes, however the section ends.
struct Lab<'a> {
    runner: &'a Runner,
    script: String,
    dir: Utf8PathBuf,
    env: Vec<(String, String)>,
}

impl Lab<'_> {
    fn var(&self, key: &str) -> Result<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("swarm-lab.sh printed no {key}"))
    }

    fn lab(&self, args: &[&str]) -> Cmd {
        Cmd::new(&self.script, args.iter().copied())
    }

    /// `cmd` told to the swarm's manager.
    fn on_manager(&self, cmd: Cmd) -> Result<Cmd> {
        Ok(cmd.env("DOCKER_HOST", self.var("DOCKER_HOST")?))
    }
}

impl Drop for Lab<'_> {
    fn drop(&mut self) {
        let _ = self.runner.quiet(&self.lab(&["down", self.dir.as_str()]));
    }
}

impl Bench<'_> {
    pub(super) fn deploy(&self) -> Result<Option<Figures>> {
        let runner = self.runner;
        let root = runner.probe(&Cmd::new("id", ["-u"]))?;
        if !runner.dry_run() && root.as_deref() != Some("0") {
            bail!(
                "the deploy bench builds a swarm of network namespaces and dockerds on this machine, \
                 which needs root: run it as root (`sudo -E cargo xtask bench --only deploy`)"
            );
        }
        runner.step("Release: the copy's release image and its acceptance tests (not timed)");
        self.xtask(&["release"])?;
        runner.step("A 3-node swarm on this machine (scripts/swarm-lab.sh up), its registry on loopback");
        let dir = Utf8PathBuf::from(std::env::temp_dir().to_string_lossy().as_ref())
            .join(format!("todobackend-bench-swarm-{}", std::process::id()));
        let mut lab = Lab {
            runner,
            script: self.copy.root.join("scripts/swarm-lab.sh").into_string(),
            dir,
            env: Vec::new(),
        };
        let port = free_port()?.to_string();
        let owner = std::process::id().to_string();
        let up = lab
            .lab(&["up", lab.dir.as_str()])
            .env("SWARM_LAB_OWNER", &owner)
            .env("SWARM_LAB_PORT", &port);
        lab.env = runner
            .quiet(&up)?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
            .collect();
        if runner.dry_run() {
            say!("   (the rest, publish and deploy included, needs the swarm: a dry run stops here)");
            return Ok(None);
        }
        let outcome = self.on_swarm(&lab);
        let stack = &self.copy.names.prefix;
        runner.step(&format!(
            "Removing the deployment {stack}, the swarm and the images made for it"
        ));
        let _ = runner.quiet(&lab.on_manager(self.xtask_cmd(&["undeploy", "--yes"]))?);
        drop(lab);
        let _ = self.xtask(&["clean", "--all", "--images"]);
        outcome.map(Some)
    }

    fn on_swarm(&self, lab: &Lab) -> Result<Figures> {
        let runner = self.runner;
        let registry = lab.var("SWARM_LAB_REGISTRY")?.to_string();
        self.xtask(&["publish", "--registry", &registry, "--force"])?;
        let variants = self.publish_variants(&registry)?;
        let outcome = self.scenarios(lab);
        let _ = runner.quiet(&docker::remove_all(docker::Kind::Image, &variants));
        outcome
    }

    /// The variants, built `FROM` the release as `publish` pushed it and pushed beside it:
    /// every name they add to this engine, for their removal.
    fn publish_variants(&self, registry: &str) -> Result<Vec<String>> {
        let published = std::fs::read_to_string(self.copy.root.join("target/xtask/published"))
            .context("`publish` left no record of what it pushed")?;
        let release = published
            .lines()
            .find_map(|line| line.strip_prefix("release "))
            .and_then(|rest| rest.split_whitespace().next())
            .context("`publish` recorded no release")?
            .to_string();
        let scratch = self.runner.scratch("variants")?;
        let mut made = vec![release.clone()];
        for (tag, lines) in VARIANTS {
            let dockerfile = scratch.join(format!("{tag}.Dockerfile"));
            std::fs::write(&dockerfile, format!("FROM {release}\n{lines}\n"))
                .with_context(|| format!("cannot write {dockerfile}"))?;
            let image = format!("{registry}/todobackend:{tag}");
            self.quiet(&Build::new(&image, dockerfile.as_str()).context(scratch.as_str()).into())?;
            made.push(image.clone());
            self.quiet(&docker::push(&image))?;
        }
        Ok(made)
    }

    fn scenarios(&self, lab: &Lab) -> Result<Figures> {
        let runner = self.runner;
        let stack = &self.copy.names.prefix;
        let app = format!("{stack}_app");
        let deploy = |args: &[&str]| lab.on_manager(self.xtask_cmd(args));
        runner.step(&format!("Deploying the release with {REPLICAS} replicas"));
        self.quiet(&deploy(&["deploy", "--replicas", &REPLICAS.to_string()])?)?;
        let nodes: Vec<String> = lab
            .var("SWARM_LAB_NODES")?
            .split_whitespace()
            .map(String::from)
            .collect();
        let edge = http::address(&nodes[0], PORT).context("the manager has no address")?;
        let url = format!("http://{edge}/todos");
        let nonce = random_hex(4)?;
        let titles: Vec<String> = (0..ITEMS).map(|n| format!("bench {nonce} {n}")).collect();
        for title in &titles {
            let body = format!(r#"{{"title": "{title}"}}"#);
            match http::exchange(edge, "POST", "/todos", &body) {
                Some((201, _)) => {}
                other => bail!("POST /todos through the edge at {edge} did not make an item: {other:?}"),
            }
        }
        let mut figures = Figures::default();
        let count_kept = |figures: &mut Figures, after: &'static str| -> Result<()> {
            let (_, list) = http::exchange(edge, "GET", "/todos", "").context("GET /todos got no answer")?;
            let kept = titles.iter().filter(|title| list.contains(title.as_str())).count();
            say!("   {kept} of the {ITEMS} items made first listed after {after}");
            figures.kept.push((after, kept));
            Ok(())
        };

        runner.step(&format!(
            "The load through the manager's edge, {BEFORE_SECONDS} s: wrk -c{CONNECTIONS} in {WINDOW_SECONDS} s windows"
        ));
        figures.before = self
            .under_load(&url, WINDOW_SECONDS, || {
                std::thread::sleep(Duration::from_secs(BEFORE_SECONDS));
                Ok(())
            })?
            .1;

        runner.step("A rolling update to v2 under that load");
        let (took, loads) = self.under_load(&url, WINDOW_SECONDS, || {
            let started = Instant::now();
            self.quiet(&deploy(&["deploy", "--version", "v2"])?)?;
            Ok(started.elapsed())
        })?;
        (figures.update_took, figures.update) = (took, loads);
        count_kept(&mut figures, "the update")?;

        runner.step("A release whose /health never answers, under that load");
        let before = self.app_images(lab, &app)?;
        let ((code, took), loads) = self.under_load(&url, WINDOW_SECONDS, || {
            let cmd = deploy(&["deploy", "--version", "broken"])?;
            say!("$ {cmd}");
            let started = Instant::now();
            let finished = runner.read(&cmd, LONG)?;
            say!("{}", finished.stderr.lines().last().unwrap_or_default());
            Ok((finished.code(), started.elapsed()))
        })?;
        (figures.rollback_code, figures.rollback_took, figures.rollback) = (code, took, loads);
        figures.old_serves = self.app_images(lab, &app)? == before;
        count_kept(&mut figures, "the rollback")?;

        runner.step("The database's task restarted");
        let started = Instant::now();
        self.quiet(&lab.on_manager(docker::restart_service(&format!("{stack}_db")))?)?;
        while http::status(edge, "GET", "/todos", &[]) != Some(200) {
            if started.elapsed() > SERVING_WITHIN {
                bail!(
                    "the app did not serve again {} s after its database restarted",
                    SERVING_WITHIN.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
            signals::check()?;
        }
        figures.db_restarted_in = started.elapsed();
        count_kept(&mut figures, "the database's restart")?;

        let tasks = self.app_tasks(lab, &app)?;
        let (n, lost) = (2..=nodes.len())
            .map(|n| (n, format!("tblab-node{n}")))
            .find(|(_, host)| tasks.iter().any(|(node, _)| node == host))
            .with_context(|| format!("no worker runs an app task: {tasks:?}"))?;
        runner.step(&format!(
            "Worker {lost} lost (its link cut, its engine killed) under that load"
        ));
        let (rescheduled, loads) = self.under_load(&url, CUT_SECONDS, || {
            let cut = Instant::now();
            self.quiet(&lab.lab(&["kill-node", lab.dir.as_str(), &n.to_string()]))?;
            loop {
                let tasks = self.app_tasks(lab, &app)?;
                if tasks.len() == REPLICAS && tasks.iter().all(|(node, _)| *node != lost) {
                    break;
                }
                if cut.elapsed() > RESCHEDULED_WITHIN {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(500));
                signals::check()?;
            }
            let again = cut.elapsed();
            say!(
                "   its app tasks run on the other nodes {:.1} s after the cut",
                again.as_secs_f64()
            );
            std::thread::sleep(Duration::from_secs(AFTER_SECONDS));
            Ok(Some(again))
        })?;
        (figures.rescheduled_in, figures.lost) = (rescheduled, loads);
        count_kept(&mut figures, "the lost node")?;
        Ok(figures)
    }

    /// `what` run under wrk through `url`, in windows (the first `first` seconds long) until
    /// it ends: what it gave, and what each window saw. wrk runs on a thread with a runner of
    /// its own (a runner serves one thread).
    fn under_load<T: Send>(&self, url: &str, first: u64, what: impl FnOnce() -> Result<T>) -> Result<(T, Vec<Load>)> {
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let load = scope.spawn(|| -> Result<Vec<Load>> {
                let runner = Runner::new(self.copy, false)?;
                let mut loads = Vec::new();
                let mut seconds = first;
                while !done.load(Ordering::Relaxed) {
                    let report = runner.read(&wrk::command(url, "todobackend", CONNECTIONS, seconds), READ)?;
                    loads.push(Load::parse(&report.stdout).with_context(|| format!("wrk: {}", report.stderr))?);
                    seconds = WINDOW_SECONDS;
                }
                Ok(loads)
            });
            let outcome = what();
            done.store(true, Ordering::Relaxed);
            let loads = load.join().map_err(|_| anyhow::anyhow!("the load's thread panicked"))?;
            Ok((outcome?, loads?))
        })
    }

    /// The node (host name) and image of each running task of `service`.
    fn app_tasks(&self, lab: &Lab, service: &str) -> Result<Vec<(String, String)>> {
        let lines = self
            .runner
            .read(&lab.on_manager(docker::running_tasks(service))?, READ)?
            .stdout;
        Ok(lines
            .lines()
            .filter_map(|line| {
                let [node, image, state] = line.splitn(3, '|').collect::<Vec<_>>()[..] else {
                    return None;
                };
                state
                    .starts_with("Running")
                    .then(|| (node.to_string(), image.to_string()))
            })
            .collect())
    }

    fn app_images(&self, lab: &Lab, service: &str) -> Result<Vec<String>> {
        let mut images: Vec<String> = self
            .app_tasks(lab, service)?
            .into_iter()
            .map(|(_, image)| image)
            .collect();
        images.sort();
        Ok(images)
    }
}

/// A port nothing listens on now, for the lab's registry.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port on loopback")?;
    Ok(listener.local_addr()?.port())
}
