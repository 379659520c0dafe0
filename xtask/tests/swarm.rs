//! `cargo xtask deploy` end to end on a real multi-node Docker Swarm built on this machine
//! (`scripts/swarm-lab.sh`: three dockerds in network namespaces of their own on one bridge,
//! one manager and two workers, and a registry they all reach as 127.0.0.1:PORT). The release
//! is built and tested by `release` and pushed by `publish` from a copy of the checkout, as a
//! user does; then each scenario deploys, updates, fails or loses a node, with requests going
//! through the edges all along, counted at the client. The scenarios share the lab and the
//! deployment (building them is most of the time) and take it in turns; the last to finish
//! removes the deployment, the lab and the copy. A test process that dies leaves nothing
//! either: the lab's watcher (`SWARM_LAB_OWNER`) removes the lab once the process is gone.
//! They need root (namespaces, bridges, dockerds): without it they say SKIPPED, and under
//! CI=true they fail.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{Checkout, Finished, free_port, run_to_end};

/// The scenarios of this file: the last of them to finish tears the lab down.
const SCENARIOS: usize = 4;
/// The port the edge publishes on every node.
const PORT: u16 = 8080;
/// Bounds only, so a broken run fails instead of hanging.
const A_RELEASE_ENDS_WITHIN: Duration = Duration::from_secs(900);
const A_DEPLOY_ENDS_WITHIN: Duration = Duration::from_secs(420);

struct Lab {
    copy: Checkout,
    dir: std::path::PathBuf,
    /// `DOCKER_HOST` (the manager), `SWARM_LAB_REGISTRY`, `SWARM_LAB_NODES`, `SWARM_LAB_SOCKETS`.
    env: Vec<(String, String)>,
    /// What `publish` pushed: `REGISTRY/REPOSITORY`, without a tag.
    repository: String,
    /// The first deploy's output, once it ran.
    deployed: Option<String>,
    /// Images the scenarios built on the host engine, removed with the lab.
    built: Vec<String>,
    finished: usize,
    /// The nodes a scenario cut off (by number, from 1), which the scenarios after it skip.
    lost: BTreeSet<usize>,
    /// Why the lab could not be built, for every scenario after the first to try.
    broken: Option<String>,
}

static LAB: OnceLock<Mutex<Option<Lab>>> = OnceLock::new();

/// A scenario's turn on the lab, built by the first to ask; when the last scenario's turn
/// ends (passed or failed), the lab goes.
struct Turn {
    lab: MutexGuard<'static, Option<Lab>>,
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
fn lab() -> Option<Turn> {
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

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

impl Lab {
    /// A copy of the checkout whose release passed and was published into the lab's registry.
    fn build() -> Lab {
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

    fn var(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("the lab printed no {key}: {:?}", self.env))
    }

    /// The entries of the lab's list `key` (`SWARM_LAB_NODES`, `SWARM_LAB_SOCKETS`) by node
    /// number, from 1, but the lost nodes'.
    fn alive(&self, key: &str) -> Vec<(usize, String)> {
        self.var(key)
            .split_whitespace()
            .enumerate()
            .map(|(i, entry)| (i + 1, entry.to_string()))
            .filter(|(n, _)| !self.lost.contains(n))
            .collect()
    }

    /// The nodes' addresses, the manager's first.
    fn nodes(&self) -> Vec<String> {
        self.alive("SWARM_LAB_NODES").into_iter().map(|(_, address)| address).collect()
    }

    /// The nodes' engines' sockets (`unix://...`).
    fn sockets(&self) -> Vec<String> {
        self.alive("SWARM_LAB_SOCKETS").into_iter().map(|(_, socket)| socket).collect()
    }

    /// The copy's xtask, talking to the swarm's manager.
    fn xtask(&self, args: &[&str]) -> Finished {
        let mut command = self.copy.xtask(args);
        command.env("DOCKER_HOST", self.var("DOCKER_HOST"));
        run_to_end(command, A_DEPLOY_ENDS_WITHIN)
    }

    /// The docker client on the engine at `host` (a node's socket), or the host's own.
    fn docker(&self, host: Option<&str>, args: &[&str]) -> String {
        let mut command = Command::new("docker");
        match host {
            Some(host) => command.env("DOCKER_HOST", host),
            None => command.env_remove("DOCKER_HOST"),
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn manager(&self, args: &[&str]) -> String {
        self.docker(Some(&self.var("DOCKER_HOST")), args)
    }

    fn stack(&self) -> &str {
        self.copy.prefix()
    }

    /// A new version of the published release, built on the host and pushed: `FROM` it, with
    /// `dockerfile`'s lines after, as `REPOSITORY:TAG`.
    fn publish_variant(&mut self, tag: &str, lines: &str) {
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
        self.built.push(image.clone());
        self.docker(None, &["push", &image]);
    }

    /// The app's versions as its running tasks report them, each task's node's address.
    fn app_tasks(&self) -> Vec<(String, String)> {
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

    fn tear_down(self) {
        let removed = self.xtask(&["undeploy", "--yes"]);
        let down = Command::new(support::repository().join("scripts/swarm-lab.sh"))
            .args(["down".as_ref(), self.dir.as_os_str()])
            .output()
            .unwrap();
        for image in &self.built {
            let _ = Command::new("docker")
                .env_remove("DOCKER_HOST")
                .args(["rmi", image])
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

/// An HTTP/1.0 request to `address:PORT`: the status and the head, or `None` when nothing
/// answered in time.
fn request(address: &str, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String, String)> {
    let socket = format!("{address}:{PORT}").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(5)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = json.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}:{PORT}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}

/// Steady requests through the edges of `addresses`, two clients, each waiting for its answer:
/// what a deploy does to the users, counted at the client.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Counted>>,
    started: Instant,
}

#[derive(Default, Debug)]
struct Counted {
    answered: usize,
    /// When each request that failed or answered 5xx was sent, after the load started.
    failed: Vec<(Duration, String)>,
    versions: BTreeSet<String>,
}

impl Load {
    fn start(addresses: &[String]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let clients = (0..2)
            .map(|n| {
                let stop = stop.clone();
                let addresses = addresses.to_vec();
                std::thread::spawn(move || {
                    let mut counted = Counted::default();
                    let mut i = n;
                    while !stop.load(Ordering::Relaxed) {
                        let address = &addresses[i % addresses.len()];
                        i += 1;
                        let at = started.elapsed();
                        match request(address, "GET", "/todos", None) {
                            Some((status, head, _)) if status < 500 => {
                                counted.answered += 1;
                                if let Some(version) = head
                                    .lines()
                                    .find_map(|line| line.strip_prefix("X-Todobackend-Version: "))
                                {
                                    counted.versions.insert(version.trim().to_string());
                                }
                            }
                            Some((status, _, _)) => counted.failed.push((at, format!("{address}: {status}"))),
                            None => counted.failed.push((at, format!("{address}: no answer"))),
                        }
                    }
                    counted
                })
            })
            .collect();
        Load { stop, clients, started }
    }

    fn stop(self) -> Counted {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Counted::default();
        for client in self.clients {
            let counted = client.join().unwrap();
            all.answered += counted.answered;
            all.failed.extend(counted.failed);
            all.versions.extend(counted.versions);
        }
        let _ = self.started;
        all
    }
}

/// The secrets' values, read where they are meant to be: the files in the stack's containers.
fn secret_values(lab: &Lab) -> BTreeSet<String> {
    let filter = format!("label=com.docker.stack.namespace={}", lab.stack());
    let mut values = BTreeSet::new();
    for socket in lab.sockets() {
        for id in lab
            .docker(Some(&socket), &["ps", "--quiet", "--filter", &filter])
            .split_whitespace()
        {
            let files = lab.docker(
                Some(&socket),
                &["exec", id, "sh", "-c", "cat /run/secrets/* 2>/dev/null; echo"],
            );
            values.extend(files.split_whitespace().map(String::from));
        }
    }
    values
}

#[test]
fn a_deploy_serves_the_release_through_every_node_s_edge_and_keeps_its_secrets_in_files_alone() {
    let Some(lab) = lab() else { return };
    for node in lab.nodes() {
        let (status, _, body) = request(&node, "GET", "/todos", None).unwrap_or_else(|| panic!("no answer on {node}"));
        assert_eq!(status, 200, "{node}: {body}");
    }
    let tasks = lab.app_tasks();
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    let nodes: BTreeSet<&String> = tasks.iter().map(|(_, node)| node).collect();
    assert!(
        nodes.len() >= 2,
        "the replicas are not spread over the nodes: {tasks:?}"
    );
    let status = lab.xtask(&["deploy", "--status"]);
    assert!(
        status
            .output()
            .lines()
            .any(|line| line.contains("_app") && line.contains(" 3/3 ")),
        "{}",
        status.output()
    );

    let secrets = secret_values(&lab);
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    let stack = lab.stack().to_string();
    let services = lab.manager(&[
        "service",
        "ls",
        "--quiet",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
    ]);
    let mut inspect = vec!["service", "inspect"];
    inspect.extend(services.split_whitespace());
    let mut seen = lab.manager(&inspect);
    for service in services.split_whitespace() {
        let tasks = lab.manager(&["service", "ps", "--quiet", "--no-trunc", service]);
        for task in tasks.split_whitespace() {
            seen.push_str(&lab.manager(&["inspect", "--type", "task", task]));
        }
    }
    for socket in lab.sockets() {
        for id in lab.docker(Some(&socket), &["ps", "--all", "--quiet"]).split_whitespace() {
            seen.push_str(&lab.docker(Some(&socket), &["inspect", id]));
        }
    }
    seen.push_str(&std::fs::read_to_string(lab.copy.root().join(format!("target/deploy/{stack}.yml"))).unwrap());
    seen.push_str(lab.deployed.as_deref().unwrap());
    seen.push_str(&status.output());
    for secret in &secrets {
        assert!(!seen.contains(secret.as_str()), "a secret is readable outside its file");
    }
}

#[test]
fn a_rolling_update_under_load_fails_no_request_and_keeps_the_data() {
    let Some(mut lab) = lab() else { return };
    let node = lab.nodes()[0].clone();
    let (status, _, body) = request(&node, "POST", "/todos", Some(r#"{"title": "kept through the update"}"#)).unwrap();
    assert_eq!(status, 201, "{body}");
    lab.publish_variant("v2", "ENV APP_VERSION=v2\nLABEL todobackend.version=v2");

    let load = Load::start(&lab.nodes());
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let update = lab.xtask(&["deploy", "--version", "v2"]);
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let counted = load.stop();
    assert_eq!(update.code(), Some(0), "{}", update.output());
    eprintln!(
        "the update took {:.1} s; {} requests answered during it",
        took.as_secs_f64(),
        counted.answered
    );
    assert!(counted.failed.is_empty(), "failed requests: {:?}", counted.failed);
    assert!(counted.answered > 50, "{counted:?}");
    assert!(counted.versions.contains("v2"), "{counted:?}");
    let tasks = lab.app_tasks();
    assert!(
        tasks.len() == 3 && tasks.iter().all(|(image, _)| image.contains(":v2@")),
        "{tasks:?}"
    );
    let (_, _, todos) = request(&node, "GET", "/todos", None).unwrap();
    assert!(todos.contains("kept through the update"), "{todos}");
}

#[test]
fn a_release_whose_health_fails_is_rolled_back_by_itself_with_no_failed_request() {
    let Some(mut lab) = lab() else { return };
    let node = lab.nodes()[0].clone();
    let before: BTreeSet<String> = lab.app_tasks().into_iter().map(|(image, _)| image).collect();
    // It runs, but on a port nobody asks: its /health never answers.
    lab.publish_variant(
        "broken",
        "CMD [\"gunicorn\", \"--config\", \"/etc/todobackend/gunicorn.conf.py\", \"--bind\", \"0.0.0.0:8001\", \"todobackend.wsgi\"]",
    );
    let load = Load::start(&lab.nodes());
    let started = Instant::now();
    let failed = lab.xtask(&["deploy", "--version", "broken"]);
    let took = started.elapsed();
    let counted = load.stop();
    let out = failed.output();
    assert_eq!(failed.code(), Some(1), "{out}");
    assert!(
        out.contains("rolled") && out.contains("back") && out.contains("did not become healthy"),
        "{out}"
    );
    assert!(took < Duration::from_secs(90), "deploy took {took:?} to say so");
    assert!(counted.failed.is_empty(), "failed requests: {:?}", counted.failed);
    let after: BTreeSet<String> = lab.app_tasks().into_iter().map(|(image, _)| image).collect();
    assert_eq!(after, before, "the old version does not serve on");
    assert!(request(&node, "GET", "/todos", None).is_some_and(|(status, _, _)| status == 200));
}

#[test]
fn a_lost_worker_s_app_tasks_run_again_on_the_others_and_a_surviving_edge_answers() {
    let Some(mut lab) = lab() else { return };
    let nodes = lab.alive("SWARM_LAB_NODES");
    // A worker that runs app tasks (the updates before may have moved them all off one)
    let tasks = lab.app_tasks();
    let (n, lost) = nodes
        .iter()
        .skip(1)
        .find(|(_, address)| tasks.iter().any(|(_, node)| node == address))
        .cloned()
        .unwrap_or_else(|| panic!("no worker runs an app task: {tasks:?}"));
    let survivor = vec![nodes[0].1.clone()];
    let load = Load::start(&survivor);
    std::thread::sleep(Duration::from_secs(2));
    let cut = Instant::now();
    let killed = Command::new(support::repository().join("scripts/swarm-lab.sh"))
        .args(["kill-node".as_ref(), lab.dir.as_os_str(), n.to_string().as_ref()])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{}", String::from_utf8_lossy(&killed.stderr));
    lab.lost.insert(n);
    let mut again = None;
    while cut.elapsed() < Duration::from_secs(90) {
        let tasks = lab.app_tasks();
        if tasks.len() == 3 && tasks.iter().all(|(_, node)| *node != lost) {
            again = Some(cut.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let counted = load.stop();
    let again = again.unwrap_or_else(|| panic!("the lost node's tasks never ran elsewhere: {:?}", lab.app_tasks()));
    eprintln!(
        "app tasks on the other nodes {:.1} s after the cut; {} answered, {} failed: {:?}",
        again.as_secs_f64(),
        counted.answered,
        counted.failed.len(),
        counted.failed
    );
    let late: Vec<_> = counted
        .failed
        .iter()
        .filter(|(at, _)| *at > Duration::from_secs(2) + Duration::from_secs(5))
        .collect();
    assert!(late.is_empty(), "requests failed after the first 5 s: {late:?}");

    // A node down: deploy refuses before it changes anything, and says what to do.
    let refused = lab.xtask(&["deploy"]);
    assert_eq!(refused.code(), Some(1), "{}", refused.output());
    assert!(
        refused.output().contains(&format!("node {lost}")) && refused.output().contains("docker node rm"),
        "{}",
        refused.output()
    );
    // Gone for good: the swarm forgets it, as its user would tell it to.
    let down = lab.manager(&[
        "node",
        "ls",
        "--filter",
        "role=worker",
        "--format",
        "{{.ID}} {{.Status}}",
    ]);
    for line in down.lines().filter(|line| line.ends_with(" Down")) {
        lab.manager(&["node", "rm", "--force", line.split_whitespace().next().unwrap()]);
    }
}
