//! The lab the scenarios share: built once (`scripts/swarm-lab.sh up`, then `release` and
//! `publish` from a copy), deployed once, taken in turns, torn down by the last scenario.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use crate::support::{self, Checkout, Finished, free_port, run_to_end};
use crate::{A_DEPLOY_ENDS_WITHIN, A_RELEASE_ENDS_WITHIN, SCENARIOS};

pub struct Lab {
    pub copy: Checkout,
    pub dir: std::path::PathBuf,
    /// `DOCKER_HOST` (the manager), `SWARM_LAB_REGISTRY`, `SWARM_LAB_NODES`, `SWARM_LAB_SOCKETS`.
    pub env: Vec<(String, String)>,
    /// What `publish` pushed: `REGISTRY/REPOSITORY`, without a tag.
    pub repository: String,
    /// The first deploy's output, once it ran.
    pub deployed: Option<String>,
    /// Images the scenarios built on the host engine, removed with the lab.
    pub built: Vec<String>,
    pub finished: usize,
    /// The nodes a scenario cut off (by number, from 1), which the scenarios after it skip.
    pub lost: BTreeSet<usize>,
    /// Why the lab could not be built, for every scenario after the first to try.
    pub broken: Option<String>,
}

pub static LAB: OnceLock<Mutex<Option<Lab>>> = OnceLock::new();

/// A scenario's turn on the lab, built by the first to ask; when the last scenario's turn
/// ends (passed or failed), the lab goes.
pub struct Turn {
    pub lab: MutexGuard<'static, Option<Lab>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(lab) = self.lab.as_mut() else { return };
        lab.finished += 1;
        if lab.finished == SCENARIOS {
            let lab = self.lab.take().unwrap();
            lab.tear_down();
        }
    }
}

impl std::ops::Deref for Turn {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        self.lab.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Turn {
    fn deref_mut(&mut self) -> &mut Lab {
        self.lab.as_mut().unwrap()
    }
}

/// The lab, deployed; `None` (SKIPPED said) where it cannot be built here.
pub fn lab() -> Option<Turn> {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !support::here(root, "root, which the swarm's network namespaces and dockerds need") {
        return None;
    }
    let present = |program: &str| which(program);
    for (program, package) in [
        ("docker-registry", "docker-registry"),
        ("nsenter", "util-linux"),
        ("dockerd", "docker.io"),
    ] {
        if !support::here(present(program), &format!("`{program}` (apt-get install {package})")) {
            return None;
        }
    }
    let _engine = support::engine()?;
    let mut turn = Turn {
        lab: LAB
            .get_or_init(|| Mutex::new(None))
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    };
    if turn.lab.is_none() {
        *turn.lab = Some(Lab::build());
    }
    if let Some(why) = &turn.broken {
        panic!("the lab could not be built: {why}");
    }
    if turn.deployed.is_none() {
        let first = turn.xtask(&["deploy", "--replicas", "3"]);
        let out = first.output();
        if first.code() != Some(0) {
            turn.broken = Some(format!("the first deploy failed:\n{out}"));
            panic!("the first deploy failed ({}):\n{out}", first.how());
        }
        turn.deployed = Some(out);
    }
    Some(turn)
}

/// `command` told to talk to the engine at `host` (a node's socket), or to the host's own.
fn at(host: Option<&str>, mut command: Command) -> Command {
    match host {
        Some(host) => command.env("DOCKER_HOST", host),
        None => command.env_remove("DOCKER_HOST"),
    };
    command
}

pub fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

impl Lab {
    /// A copy of the checkout whose release passed and was published into the lab's registry.
    pub fn build() -> Lab {
        let copy = Checkout::copy("swarm");
        let dir = std::env::temp_dir().join(format!("xtask-swarm-lab-{}", std::process::id()));
        let port = free_port();
        let up = Command::new(support::repository().join("scripts/swarm-lab.sh"))
            .args(["up".as_ref(), dir.as_os_str()])
            .env("SWARM_LAB_OWNER", std::process::id().to_string())
            .env("SWARM_LAB_PORT", port.to_string())
            .output()
            .unwrap();
        let mut lab = Lab {
            copy,
            dir,
            env: Vec::new(),
            repository: String::new(),
            deployed: None,
            built: Vec::new(),
            finished: 0,
            lost: BTreeSet::new(),
            broken: None,
        };
        if !up.status.success() {
            lab.broken = Some(format!(
                "swarm-lab.sh up failed:\n{}",
                String::from_utf8_lossy(&up.stderr)
            ));
            return lab;
        }
        lab.env = String::from_utf8_lossy(&up.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('"').to_string()))
            .collect();
        let registry = lab.var("SWARM_LAB_REGISTRY");
        for step in [vec!["release"], vec!["publish", "--registry", &registry, "--force"]] {
            let finished = run_to_end(lab.copy.xtask(&step), A_RELEASE_ENDS_WITHIN);
            if finished.code() != Some(0) {
                lab.broken = Some(format!("`{}` failed:\n{}", step.join(" "), finished.output()));
                return lab;
            }
        }
        lab.repository = format!("{registry}/todobackend");
        lab
    }

    pub fn var(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("the lab printed no {key}: {:?}", self.env))
    }

    /// The entries of the lab's list `key` (`SWARM_LAB_NODES`, `SWARM_LAB_SOCKETS`) by node
    /// number, from 1, but the lost nodes'.
    pub fn alive(&self, key: &str) -> Vec<(usize, String)> {
        self.var(key)
            .split_whitespace()
            .enumerate()
            .map(|(i, entry)| (i + 1, entry.to_string()))
            .filter(|(n, _)| !self.lost.contains(n))
            .collect()
    }

    /// The nodes' addresses, the manager's first.
    pub fn nodes(&self) -> Vec<String> {
        self.alive("SWARM_LAB_NODES")
            .into_iter()
            .map(|(_, address)| address)
            .collect()
    }

    /// The nodes' engines' sockets (`unix://...`).
    pub fn sockets(&self) -> Vec<String> {
        self.alive("SWARM_LAB_SOCKETS")
            .into_iter()
            .map(|(_, socket)| socket)
            .collect()
    }

    /// The copy's xtask, talking to the swarm's manager.
    pub fn xtask(&self, args: &[&str]) -> Finished {
        self.xtask_at(Some(&self.var("DOCKER_HOST")), args)
    }

    /// The copy's xtask, talking to the engine at `host` (a node's socket), or the host's own.
    pub fn xtask_at(&self, host: Option<&str>, args: &[&str]) -> Finished {
        run_to_end(at(host, self.copy.xtask(args)), A_DEPLOY_ENDS_WITHIN)
    }

    /// The copy's xtask with `args`, talking to the swarm's manager, to be started.
    pub fn xtask_command(&self, args: &[&str]) -> Command {
        at(Some(&self.var("DOCKER_HOST")), self.copy.xtask(args))
    }

    /// The docker client on the engine at `host` (a node's socket), or the host's own.
    pub fn docker(&self, host: Option<&str>, args: &[&str]) -> String {
        let output = at(host, Command::new("docker")).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn manager(&self, args: &[&str]) -> String {
        self.docker(Some(&self.var("DOCKER_HOST")), args)
    }

    pub fn stack(&self) -> &str {
        self.copy.prefix()
    }

    /// A new version of the published release, built on the host and pushed: `FROM` it, with
    /// `dockerfile`'s lines after, as `REPOSITORY:TAG`.
    pub fn publish_variant(&mut self, tag: &str, lines: &str) {
        let published = std::fs::read_to_string(self.copy.root().join("target/xtask/published")).unwrap();
        let release = published
            .lines()
            .find_map(|line| line.strip_prefix("release "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap()
            .to_string();
        let image = format!("{}:{tag}", self.repository);
        let mut build = Command::new("docker")
            .env_remove("DOCKER_HOST")
            .args(["build", "--quiet", "--tag", &image, "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let dockerfile = format!("FROM {release}\n{lines}\n");
        build.stdin.take().unwrap().write_all(dockerfile.as_bytes()).unwrap();
        let output = build.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        // By tag and by id (what `--quiet` prints), and the release as the build pulled it
        // (by the registry's digest, a name of the copy's image the copy's clean does not know)
        self.built.push(image.clone());
        self.built.push(release.clone());
        self.built
            .push(String::from_utf8_lossy(&output.stdout).trim().to_string());
        self.docker(None, &["push", &image]);
    }

    /// The images the app's running tasks run.
    pub fn app_images(&self) -> BTreeSet<String> {
        self.app_tasks().into_iter().map(|(image, _)| image).collect()
    }

    /// The app's versions as its running tasks report them, each task's node's address.
    pub fn app_tasks(&self) -> Vec<(String, String)> {
        let service = format!("{}_app", self.stack());
        let nodes: Vec<(String, String)> = self
            .manager(&["node", "ls", "--format", "{{.ID}}"])
            .lines()
            .map(|id| {
                (
                    id.to_string(),
                    self.manager(&["node", "inspect", "--format", "{{.Status.Addr}}", id])
                        .trim()
                        .to_string(),
                )
            })
            .collect();
        self.manager(&[
            "service",
            "ps",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.ID}} {{.CurrentState}}",
            &service,
        ])
        .lines()
        .filter(|line| line.contains(" Running "))
        .map(|line| {
            let id = line.split_whitespace().next().unwrap();
            let task = self.manager(&[
                "inspect",
                "--type",
                "task",
                "--format",
                "{{.NodeID}} {{.Spec.ContainerSpec.Image}}",
                id,
            ]);
            let (node, image) = task.trim().split_once(' ').unwrap();
            let address = nodes
                .iter()
                .find(|(id, _)| id == node)
                .map_or(node.to_string(), |(_, a)| a.clone());
            (image.to_string(), address)
        })
        .collect()
    }

    pub fn tear_down(self) {
        let removed = self.xtask(&["undeploy", "--yes"]);
        let down = Command::new(support::repository().join("scripts/swarm-lab.sh"))
            .args(["down".as_ref(), self.dir.as_os_str()])
            .output()
            .unwrap();
        for image in &self.built {
            let _ = Command::new("docker")
                .env_remove("DOCKER_HOST")
                .args(["rmi", "--force", image])
                .output();
        }
        assert!(
            removed.code() == Some(0) || self.deployed.is_none(),
            "{}",
            removed.output()
        );
        assert!(
            down.status.success(),
            "swarm-lab.sh down: {}",
            String::from_utf8_lossy(&down.stderr)
        );
        // Dropping the copy removes what it made on the host engine, and fails if anything is left.
    }
}
