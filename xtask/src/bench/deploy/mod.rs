//! The bench's deploy section (`--only deploy`): `cargo xtask deploy` of the copy's release
//! onto a real 3-node swarm built on this machine (`scripts/swarm-lab.sh`, hence root), under
//! wrk through the manager's edge, one wrk run per step, stopped when the step ends. A rolling
//! update (its errors, its p99 beside the p99 before it, the time to every replica on the new
//! version), a release whose health fails (errors, deploy's exit and time, the old version
//! serving on), the database's task restarted, and a worker lost (when its app tasks run
//! elsewhere, errors in the first 5 s and after). Items made first are counted after each.
//! All of it goes at the end.

mod report;

pub use report::report;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use camino::Utf8PathBuf;

use super::scenarios::Bench;
use super::wrk::{self, Load};
use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build};
use crate::http;
use crate::project::{PUBLISHED, random_hex};
use crate::runner::{Finished, LONG, READ, Runner};
use crate::signals;

/// The port the edge publishes on every node (`deploy`'s default).
const PORT: u16 = 8080;
const REPLICAS: usize = 3;
const CONNECTIONS: u32 = 4;
/// A bound on one wrk run: each is stopped when its step ends.
const LOAD_BOUND_SECONDS: u64 = 600;
/// The name wrk asks the app for (`deploy` allows any).
const HOST: &str = "todobackend";
/// The load before the update, the baseline of its p99: about as long as an update takes, so
/// the two p99s are of as many requests (a 10 s one moved by half from run to run).
const BEFORE_SECONDS: u64 = 30;
/// A lost node's first seconds: the goal allows failures in them, none after.
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
    pub before: Option<Load>,
    pub update: Option<Load>,
    pub update_took: Duration,
    pub rollback: Option<Load>,
    pub rollback_took: Duration,
    pub rollback_code: u8,
    /// The app's running images after the rollback are the ones before the failed release.
    pub old_serves: bool,
    pub db_restarted_in: Duration,
    /// What wrk saw in the first `CUT_SECONDS` after the cut, and after them.
    pub cut: Option<Load>,
    pub after_cut: Option<Load>,
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
        let published = std::fs::read_to_string(self.copy.root.join(PUBLISHED))
            .context("`publish` left no record of what it pushed")?;
        let release = published
            .lines()
            .find_map(|line| line.strip_prefix("release "))
            .and_then(|rest| rest.split_whitespace().next())
            .context("`publish` recorded no release")?
            .to_string();
        let scratch = self.runner.scratch("variants")?;
        std::fs::create_dir_all(&scratch).with_context(|| format!("cannot make {scratch}"))?;
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
            "The load through the manager's edge, {BEFORE_SECONDS} s: wrk -c{CONNECTIONS}, GET /todos"
        ));
        figures.before = Some(
            self.under_load(&url, || {
                std::thread::sleep(Duration::from_secs(BEFORE_SECONDS));
                Ok(())
            })?
            .1,
        );

        runner.step("A rolling update to v2 under that load");
        let (took, load) = self.under_load(&url, || {
            let started = Instant::now();
            let out = self.quiet(&deploy(&["deploy", "--version", "v2"])?)?;
            let took = started.elapsed();
            // Its parts, as the deploy timed them: where the update's time goes
            for part in out.lines().skip_while(|line| !line.starts_with("=> Took")) {
                say!("   {part}");
            }
            Ok(took)
        })?;
        (figures.update_took, figures.update) = (took, Some(load));
        count_kept(&mut figures, "the update")?;

        runner.step("A release whose /health never answers, under that load");
        let before = self.app_images(lab, &app)?;
        let ((code, took), load) = self.under_load(&url, || {
            let cmd = deploy(&["deploy", "--version", "broken"])?;
            say!("$ {cmd}");
            let started = Instant::now();
            let finished = runner.read(&cmd, LONG)?;
            say!("{}", finished.stderr.lines().last().unwrap_or_default());
            Ok((finished.code(), started.elapsed()))
        })?;
        (figures.rollback_code, figures.rollback_took, figures.rollback) = (code, took, Some(load));
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
        // A wrk run of its own for the first seconds, another after them, both from the cut
        let first = runner.beside(&wrk::command(&url, HOST, CONNECTIONS, CUT_SECONDS))?;
        let cut = Instant::now();
        self.quiet(&lab.lab(&["kill-node", lab.dir.as_str(), &n.to_string()]))?;
        let mut first = Some(first);
        let mut after = None;
        loop {
            if cut.elapsed() >= Duration::from_secs(CUT_SECONDS)
                && let Some(first) = first.take()
            {
                figures.cut = Some(wrk_report(runner.finish(first)?)?);
                after = Some(runner.beside(&wrk::command(&url, HOST, CONNECTIONS, LOAD_BOUND_SECONDS))?);
            }
            match figures.rescheduled_in {
                Some(again) if after.is_some() && cut.elapsed() > again + Duration::from_secs(AFTER_SECONDS) => break,
                Some(_) => {}
                None => {
                    let tasks = self.app_tasks(lab, &app)?;
                    if tasks.len() == REPLICAS && tasks.iter().all(|(node, _)| *node != lost) {
                        figures.rescheduled_in = Some(cut.elapsed());
                        say!(
                            "   its app tasks run on the other nodes {:.1} s after the cut",
                            cut.elapsed().as_secs_f64()
                        );
                    } else if cut.elapsed() > RESCHEDULED_WITHIN {
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(250));
            signals::check()?;
        }
        if let Some(after) = after {
            runner.interrupt(&after);
            figures.after_cut = Some(wrk_report(runner.finish(after)?)?);
        }
        count_kept(&mut figures, "the lost node")?;
        Ok(figures)
    }

    /// `what` run under wrk through `url`, which starts before it and is stopped (SIGINT:
    /// wrk still reports) once it ends: what it gave, and what wrk saw.
    fn under_load<T>(&self, url: &str, what: impl FnOnce() -> Result<T>) -> Result<(T, Load)> {
        let load = self
            .runner
            .beside(&wrk::command(url, HOST, CONNECTIONS, LOAD_BOUND_SECONDS))?;
        let outcome = what();
        self.runner.interrupt(&load);
        let finished = self.runner.finish(load)?;
        Ok((outcome?, wrk_report(finished)?))
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

/// What a wrk run measured, from its report (there is one: the section has no dry run).
fn wrk_report(finished: Option<Finished>) -> Result<Load> {
    let finished = finished.context("wrk did not run")?;
    Load::parse(&finished.stdout).with_context(|| format!("wrk: {}", finished.stderr.trim()))
}

/// A port nothing listens on now, for the lab's registry.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port on loopback")?;
    Ok(listener.local_addr()?.port())
}
