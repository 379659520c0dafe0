//! What answers `docker`: Docker, or Podman (behind a `docker` shim, or Docker's client on
//! Podman's socket); where it is; which builder builds; whether it sees this machine's files;
//! and what it cannot do here, said before a task starts. Read once per run by
//! `Runner::check_engine`. The commands are in `docker.rs`; here is what their answers mean.

pub mod cmd;
pub mod docker;

use std::fmt;
use std::os::unix::fs::MetadataExt;

use camino::Utf8PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Docker,
    Podman,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    Classic,
    BuildKit,
    Buildah,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Docker => "Docker",
            Kind::Podman => "Podman",
        })
    }
}

impl fmt::Display for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Builder::Classic => "classic (the legacy builder)",
            Builder::BuildKit => "BuildKit",
            Builder::Buildah => "Buildah (Podman's builder)",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub kind: Kind,
    /// Whether the `docker` on PATH is Podman's (`podman version X`), not Docker's client.
    pub podman_cli: bool,
    /// `docker --version`'s line.
    pub client: String,
    pub version: String,
    /// `unix:///var/run/docker.sock`, `tcp://...`, `ssh://...`; for Podman's own client,
    /// its local store or CONTAINER_HOST.
    pub endpoint: String,
    /// Where the endpoint comes from: `DOCKER_HOST`, a docker context, `CONTAINER_HOST`.
    pub via: String,
}

/// Podman's default for a container's open files and processes when nothing configures
/// them: as root it sets both, which needs CAP_SYS_RESOURCE above the caller's hard limits.
const PODMAN_RLIMIT: u64 = 1_048_576;
const CAP_SYS_RESOURCE: u32 = 24;

impl Engine {
    /// From the client's version line (`docker --version`'s, or as `docker_facts` makes it),
    /// the server query's answer (`docker::server_facts`), and the endpoint: DOCKER_HOST, else
    /// the context's `NAME|ENDPOINT` (`docker::context_endpoint`).
    pub fn new(client: &str, server: &str, context: &str) -> Engine {
        let client = client.trim().to_string();
        let podman_cli = is_podman_client(&client);
        let (version, components) = server.trim().split_once('|').unwrap_or((server.trim(), ""));
        let kind = if podman_cli || components.contains("Podman") {
            Kind::Podman
        } else {
            Kind::Docker
        };
        let env = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
        let (endpoint, via) = if podman_cli {
            match env("CONTAINER_HOST") {
                Some(host) => (host, "CONTAINER_HOST".to_string()),
                None if client.contains("remote") => ("a remote Podman service".into(), "podman-remote".into()),
                None => ("the local Podman store".into(), "Podman's own client".into()),
            }
        } else {
            let (name, host) = context.trim().split_once('|').unwrap_or(("default", context.trim()));
            match env("DOCKER_HOST") {
                Some(host) => (host, "DOCKER_HOST".to_string()),
                None => (host.to_string(), format!("docker context `{name}`")),
            }
        };
        Engine {
            kind,
            podman_cli,
            client,
            version: version.to_string(),
            endpoint,
            via,
        }
    }

    /// Whether the engine runs on this machine and so can mount the checkout's files.
    pub fn is_local(&self) -> bool {
        if self.podman_cli {
            return self.via == "Podman's own client";
        }
        self.endpoint.starts_with("unix://") || self.endpoint.starts_with("npipe://")
    }

    /// The host the engine runs on, where what it publishes is reached: the endpoint's host
    /// (`tcp://10.0.0.5:2376`, `ssh://ci@builder:22`), this machine for a local engine.
    pub fn host(&self) -> String {
        if self.is_local() {
            return "127.0.0.1".into();
        }
        let rest = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, rest)| rest);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(v6),
            None => host.split(':').next().unwrap_or(host),
        };
        if host.is_empty() {
            "127.0.0.1".into()
        } else {
            host.into()
        }
    }

    /// The Docker client's major version, from `Docker version 28.2.2, build ...`.
    fn client_major(&self) -> Option<u32> {
        let version = self.client.split_whitespace().nth(2)?;
        version.split('.').next()?.parse().ok()
    }

    /// Whether `docker build` goes to BuildKit through the buildx plugin (clients from 23 on),
    /// so it needs `docker buildx` to exist.
    pub fn builds_through_buildx(&self) -> bool {
        !self.podman_cli && self.client_major().is_some_and(|major| major >= 23) && buildkit_env() != Some(false)
    }

    /// The builder `docker build` uses; `has_buildx` answers for clients from 23 on.
    pub fn builder(&self, has_buildx: bool) -> Builder {
        // Podman's service builds with Buildah whatever API the client speaks.
        if self.kind == Kind::Podman {
            return Builder::Buildah;
        }
        match (buildkit_env(), self.builds_through_buildx()) {
            (Some(false), _) => Builder::Classic,
            (_, true) if has_buildx => Builder::BuildKit,
            (_, true) => Builder::Classic,
            (Some(true), false) => Builder::BuildKit,
            (None, false) => Builder::Classic,
        }
    }

    /// What keeps this engine from running the tasks here, each with what to do.
    /// `has_buildx` is asked only when the answer matters.
    pub fn cannot(&self, has_buildx: impl FnOnce() -> bool) -> Vec<String> {
        let mut problems = Vec::new();
        if buildkit_env() == Some(true) && self.builds_through_buildx() && !has_buildx() {
            problems.push(format!(
                "DOCKER_BUILDKIT asks for BuildKit, but this docker client ({}) has no buildx plugin to build \
                 with: install it (Debian: `apt-get install docker-buildx`), or unset DOCKER_BUILDKIT for the \
                 classic builder, then run this again",
                self.client
            ));
        }
        if self.podman_cli && self.is_local() {
            problems.extend(podman_rlimits_problem(&limits(), &podman_ulimits_configured()));
        }
        problems
    }
}

/// Where Docker's client looks for its engine in the default context when DOCKER_HOST is not
/// set (on every system the xtask runs on; Windows' is a named pipe).
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// What `docker::engine_facts` printed, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerFacts {
    /// As `docker --version` prints it: `Docker version 28.2.2, build e6534b4`.
    pub client: String,
    /// The context's name: `default` unless one was chosen.
    pub context: String,
    /// As `docker::server_facts(false)` prints it: `VERSION|COMPONENTS`.
    pub server: String,
}

/// `docker::engine_facts`'s answer, where it has every field.
pub fn docker_facts(answer: &str) -> Option<DockerFacts> {
    let mut fields = answer.trim().splitn(4, '|');
    let (version, commit, context, server) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
    let server_version = server.split('|').next().unwrap_or_default();
    if [version, context, server_version].iter().any(|field| field.is_empty()) {
        return None;
    }
    Some(DockerFacts {
        client: format!("Docker version {version}, build {commit}"),
        context: context.to_string(),
        server: server.to_string(),
    })
}

/// Whether `docker --version` is Podman's (`podman version 4.3.1`, `podman-remote version ...`).
pub fn is_podman_client(version_line: &str) -> bool {
    version_line.trim().to_ascii_lowercase().starts_with("podman")
}

/// `DOCKER_BUILDKIT` as the client reads it: set true, set false, or not set.
fn buildkit_env() -> Option<bool> {
    let value = std::env::var("DOCKER_BUILDKIT").ok()?;
    match value.trim().to_ascii_lowercase().as_str() {
        "" => None,
        "0" | "false" => Some(false),
        _ => Some(true),
    }
}

/// This process's hard limits that rootful Podman would raise, and whether it may raise them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Limits {
    root: bool,
    may_raise: bool,
    /// (ulimit name, the most a container may be given)
    hard: Vec<(&'static str, u64)>,
}

fn limits() -> Limits {
    let root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let may_raise = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|caps| u64::from_str_radix(caps.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0);
    let table = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    // Podman 4.3 fails to start a container whose process limit exceeds the kernel's pid_max
    // too: what it may be given is the smaller of the two.
    let pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(u64::MAX);
    let hard = [("nofile", "Max open files"), ("nproc", "Max processes")]
        .into_iter()
        .filter_map(|(name, row)| {
            let line = table.lines().find(|line| line.starts_with(row))?;
            let hard: u64 = line[row.len()..].split_whitespace().nth(1)?.parse().unwrap_or(u64::MAX);
            Some((name, if name == "nproc" { hard.min(pid_max) } else { hard }))
        })
        .collect();
    Limits { root, may_raise, hard }
}

/// The ulimit names (`nofile`, `nproc`) that containers.conf sets by default, from the file
/// CONTAINERS_CONF names, else the system's files, as Podman reads them.
fn podman_ulimits_configured() -> Vec<String> {
    let files: Vec<Utf8PathBuf> = match std::env::var("CONTAINERS_CONF") {
        Ok(file) if !file.is_empty() => vec![file.into()],
        _ => {
            let mut files = vec![
                Utf8PathBuf::from("/usr/share/containers/containers.conf"),
                Utf8PathBuf::from("/etc/containers/containers.conf"),
            ];
            if let Ok(dir) = Utf8PathBuf::from("/etc/containers/containers.conf.d").read_dir_utf8() {
                let mut dropins: Vec<Utf8PathBuf> = dir.flatten().map(|entry| entry.into_path()).collect();
                dropins.sort();
                files.extend(dropins.into_iter().filter(|path| path.extension() == Some("conf")));
            }
            files
        }
    };
    let mut configured = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(table) = toml::de::DeTable::parse(&text) else {
            continue;
        };
        let ulimits = table
            .get_ref()
            .get("containers")
            .and_then(|containers| containers.get_ref().get("default_ulimits"))
            .and_then(|ulimits| ulimits.get_ref().as_array());
        if let Some(ulimits) = ulimits {
            // A later file's list replaces an earlier one's.
            configured = ulimits
                .iter()
                .filter_map(|ulimit| ulimit.get_ref().as_str()?.split('=').next().map(String::from))
                .collect();
        }
    }
    configured
}

/// Rootful Podman sets each container's open files and processes to PODMAN_RLIMIT unless
/// containers.conf says otherwise; above this process's hard limits, without CAP_SYS_RESOURCE,
/// every container start fails (`error setting rlimit type 7`).
fn podman_rlimits_problem(limits: &Limits, configured: &[String]) -> Option<String> {
    if !limits.root || limits.may_raise {
        return None;
    }
    let low: Vec<(&str, u64)> = limits
        .hard
        .iter()
        .copied()
        .filter(|(name, hard)| *hard < PODMAN_RLIMIT && !configured.iter().any(|set| set == name))
        .collect();
    if low.is_empty() {
        return None;
    }
    let names: Vec<String> = low.iter().map(|(name, hard)| format!("{name} {hard}")).collect();
    let lines: Vec<String> = low
        .iter()
        .map(|(name, hard)| format!("\"{name}={hard}:{hard}\""))
        .collect();
    Some(format!(
        "rootful Podman cannot start containers here: it raises each container's limits to {PODMAN_RLIMIT}, above \
         what containers may have here ({}: the hard limits, and the kernel's pid_max), and may not \
         (no CAP_SYS_RESOURCE). Lower its defaults in a containers.conf: \
         `[containers]` then `default_ulimits = [{}]`, in /etc/containers/containers.conf or a file named by \
         CONTAINERS_CONF, then run this again",
        names.join(", "),
        lines.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_on(endpoint: &str) -> Engine {
        Engine::new(
            "Docker version 28.2.2, build e6534b4",
            "20.10.24|Engine;containerd;runc;",
            &format!("default|{endpoint}"),
        )
    }

    #[test]
    fn the_kind_comes_from_the_client_or_the_servers_components() {
        let podman = Engine::new("podman version 4.3.1", "4.3.1", "");
        assert_eq!((podman.kind, podman.podman_cli), (Kind::Podman, true));
        assert_eq!(podman.version, "4.3.1");
        let socket = Engine::new(
            "Docker version 28.2.2, build x",
            "4.9.3|Podman Engine;Conmon;",
            "x|unix:///run/podman.sock",
        );
        assert_eq!((socket.kind, socket.podman_cli), (Kind::Podman, false));
        let docker = docker_on("unix:///var/run/docker.sock");
        assert_eq!((docker.kind, docker.version.as_str()), (Kind::Docker, "20.10.24"));
        assert_eq!(docker.via, "docker context `default`");
    }

    #[test]
    fn one_answer_of_docker_s_client_says_the_client_its_context_and_the_server() {
        let facts = docker_facts("28.2.2|e6534b4|default|20.10.24|Engine;containerd;runc;docker-init;\n").unwrap();
        assert_eq!(facts.client, "Docker version 28.2.2, build e6534b4");
        assert_eq!(facts.context, "default");
        let engine = Engine::new(&facts.client, &facts.server, &format!("default|{DEFAULT_ENDPOINT}"));
        assert_eq!((engine.kind, engine.version.as_str()), (Kind::Docker, "20.10.24"));
        assert_eq!(engine.client_major(), Some(28));
        let on_podman = docker_facts("5.0.1|abc|podman-machine|5.0.1|Podman Engine;Conmon;").unwrap();
        assert_eq!(
            Engine::new(&on_podman.client, &on_podman.server, "x|unix:///run/podman.sock").kind,
            Kind::Podman
        );
        // Without an engine Docker's client prints the client's part only, and fails
        assert_eq!(docker_facts("28.2.2|e6534b4|default||"), None);
        assert_eq!(docker_facts(""), None);
    }

    #[test]
    fn only_an_engine_on_this_machine_can_mount_the_checkout() {
        assert!(docker_on("unix:///var/run/docker.sock").is_local());
        assert!(!docker_on("tcp://127.0.0.1:2375").is_local());
        assert!(!docker_on("ssh://ci@builder").is_local());
        assert_eq!(docker_on("unix:///var/run/docker.sock").host(), "127.0.0.1");
        assert_eq!(docker_on("tcp://10.0.0.5:2376").host(), "10.0.0.5");
        assert_eq!(docker_on("ssh://ci@builder:2222").host(), "builder");
        assert_eq!(docker_on("tcp://[fd00::5]:2375").host(), "fd00::5");
        assert!(Engine::new("podman version 4.3.1", "4.3.1", "").is_local());
        assert!(!Engine::new("podman-remote version 4.3.1", "4.3.1", "").is_local());
    }

    #[test]
    fn the_builder_follows_the_client_and_docker_buildkit() {
        let podman = Engine::new("podman version 4.3.1", "4.3.1", "");
        assert_eq!(podman.builder(false), Builder::Buildah);
        // Read without DOCKER_BUILDKIT set: the tests' environment does not set it.
        if std::env::var_os("DOCKER_BUILDKIT").is_none() {
            let new_client = docker_on("unix:///x");
            assert_eq!(new_client.builder(true), Builder::BuildKit);
            assert_eq!(new_client.builder(false), Builder::Classic);
            let old_client = Engine::new(
                "Docker version 20.10.24+dfsg1, build 297e128",
                "20.10.24",
                "default|unix:///x",
            );
            assert_eq!(old_client.builder(false), Builder::Classic);
        }
    }

    #[test]
    fn rootful_podman_without_the_right_to_raise_limits_needs_them_configured() {
        let here = Limits {
            root: true,
            may_raise: false,
            hard: vec![("nofile", 20000), ("nproc", 96365)],
        };
        let problem = podman_rlimits_problem(&here, &[]).unwrap();
        assert!(
            problem.contains("\"nofile=20000:20000\", \"nproc=96365:96365\""),
            "{problem}"
        );
        let half = podman_rlimits_problem(&here, &["nofile".into()]).unwrap();
        assert!(!half.contains("nofile=") && half.contains("nproc=96365"), "{half}");
        assert_eq!(podman_rlimits_problem(&here, &["nofile".into(), "nproc".into()]), None);
        assert_eq!(
            podman_rlimits_problem(
                &Limits {
                    may_raise: true,
                    ..here.clone()
                },
                &[]
            ),
            None
        );
        assert_eq!(podman_rlimits_problem(&Limits { root: false, ..here }, &[]), None);
    }
}
