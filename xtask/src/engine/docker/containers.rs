//! Containers: `docker run`/`create` as a value (`Run`), starting, `exec` (`Exec`), copying
//! files in and out, stopping.

use super::labels::PROJECT_LABEL;
use crate::engine::cmd::Cmd;

/// `docker run`: always labelled as the project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub image: String,
    pub name: Option<String>,
    pub detach: bool,
    /// `--rm`: removed by the engine once it exits.
    pub remove: bool,
    pub labels: Vec<(String, String)>,
    pub network: Option<String>,
    pub network_alias: Option<String>,
    /// `--add-host NAME:ADDRESS`: names the container's /etc/hosts gives, before any DNS.
    pub hosts: Vec<(String, String)>,
    pub entrypoint: Option<String>,
    /// `--user UID:GID`: who the command runs as.
    pub user: Option<String>,
    /// `--interactive --tty`: stdin kept open and a terminal, for a person at one.
    pub terminal: bool,
    pub volumes: Vec<String>,
    /// `--tmpfs PATH`: an empty directory in memory, gone with the container.
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
    /// `-p`: ports published on the engine's host.
    pub publish: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Passed by name (`-e KEY`): the value travels in the client's environment, never in argv.
    pub secrets: Vec<(String, String)>,
    pub command: Vec<String>,
}

impl Run {
    pub fn new(image: &str) -> Run {
        Run {
            image: image.into(),
            name: None,
            detach: false,
            remove: false,
            labels: Vec::new(),
            network: None,
            network_alias: None,
            hosts: Vec::new(),
            entrypoint: None,
            user: None,
            terminal: false,
            volumes: Vec::new(),
            tmpfs: Vec::new(),
            volumes_from: Vec::new(),
            publish: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            command: Vec::new(),
        }
    }

    /// `--detach`: runs in the background, printing the container's id.
    pub fn detach(mut self) -> Run {
        self.detach = true;
        self
    }

    /// `--rm`: for a container that only answers a question.
    pub fn remove_after(mut self) -> Run {
        self.remove = true;
        self
    }

    /// `-p SPEC`: `[HOST_IP:]HOST_PORT:CONTAINER_PORT`.
    pub fn publish(mut self, spec: &str) -> Run {
        self.publish.push(spec.into());
        self
    }

    pub fn labels(mut self, labels: &[(String, String)]) -> Run {
        self.labels.extend_from_slice(labels);
        self
    }

    /// Joins `network`, reachable from the others there as `alias` when given.
    pub fn network(mut self, network: &str, alias: Option<&str>) -> Run {
        self.network = Some(network.into());
        self.network_alias = alias.map(Into::into);
        self
    }

    /// `--add-host NAME:ADDRESS`: `name` is `address` in the container's /etc/hosts, asked
    /// before any DNS server.
    pub fn host(mut self, name: &str, address: &str) -> Run {
        self.hosts.push((name.into(), address.into()));
        self
    }

    pub fn secret(mut self, key: &str, value: &str) -> Run {
        self.secrets.push((key.into(), value.into()));
        self
    }

    pub fn name(mut self, name: &str) -> Run {
        self.name = Some(name.into());
        self
    }

    pub fn entrypoint(mut self, entrypoint: &str) -> Run {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    pub fn user(mut self, user: &str) -> Run {
        self.user = Some(user.into());
        self
    }

    /// `--interactive --tty`: for a command a person answers at a terminal.
    pub fn terminal(mut self) -> Run {
        self.terminal = true;
        self
    }

    pub fn volume(mut self, spec: &str) -> Run {
        self.volumes.push(spec.into());
        self
    }

    /// `--tmpfs PATH`: for data that need not outlive the container, in memory rather than
    /// on a disk other work may keep busy.
    pub fn tmpfs(mut self, path: &str) -> Run {
        self.tmpfs.push(path.into());
        self
    }

    pub fn volumes_from(mut self, container: &str) -> Run {
        self.volumes_from.push(container.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Run {
        self.command.extend(command.into_iter().map(Into::into));
        self
    }
}

impl From<Run> for Cmd {
    fn from(run: Run) -> Cmd {
        let mut args: Vec<String> = vec!["run".into()];
        if run.detach {
            args.push("--detach".into());
        }
        if run.remove {
            args.push("--rm".into());
        }
        if let Some(name) = run.name {
            args.extend(["--name".into(), name]);
        }
        args.extend(["--label".into(), format!("{}={}", PROJECT_LABEL.0, PROJECT_LABEL.1)]);
        for (key, value) in run.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        if let Some(network) = run.network {
            args.extend(["--network".into(), network]);
        }
        if let Some(alias) = run.network_alias {
            args.extend(["--network-alias".into(), alias]);
        }
        for (name, address) in run.hosts {
            args.extend(["--add-host".into(), format!("{name}:{address}")]);
        }
        if run.terminal {
            args.extend(["--interactive".into(), "--tty".into()]);
        }
        if let Some(user) = run.user {
            args.extend(["--user".into(), user]);
        }
        for volume in run.volumes {
            args.extend(["-v".into(), volume]);
        }
        for path in run.tmpfs {
            args.extend(["--tmpfs".into(), path]);
        }
        for container in run.volumes_from {
            args.extend(["--volumes-from".into(), container]);
        }
        for spec in run.publish {
            args.extend(["-p".into(), spec]);
        }
        for (key, value) in run.env {
            args.extend(["-e".into(), format!("{key}={value}")]);
        }
        for (key, _) in &run.secrets {
            args.extend(["-e".into(), key.clone()]);
        }
        if let Some(entrypoint) = run.entrypoint {
            args.extend(["--entrypoint".into(), entrypoint]);
        }
        args.push(run.image);
        args.extend(run.command);
        let mut cmd = Cmd::new("docker", args);
        cmd.secrets = run.secrets;
        cmd
    }
}

/// What `Run::network` takes to share `container`'s network namespace (its interfaces, its
/// addresses, its 127.0.0.1) rather than join a network.
pub fn namespace_of(container: &str) -> String {
    format!("container:{container}")
}

/// `docker create`: the container of a `Run`, made but not started.
pub fn create(run: Run) -> Cmd {
    let mut cmd = Cmd::from(run);
    cmd.args[0] = "create".into();
    cmd
}

/// Starts a created container with its output streamed; exits with the container's status.
pub fn start_attached(container: &str) -> Cmd {
    Cmd::new("docker", ["start", "--attach", container])
}

/// Starts a created container with a terminal's input, output and signals wired to it, for a
/// container created with `Run::terminal`; exits with the container's status.
pub fn start_interactive(container: &str) -> Cmd {
    Cmd::new("docker", ["start", "--attach", "--interactive", container])
}

/// Runs a shell command inside a running container.
pub fn exec_sh(container: &str, script: &str) -> Cmd {
    Cmd::new("docker", ["exec", container, "sh", "-c", script])
}

/// Runs `script` in a shell inside a running container again and again, `every` apart, until
/// it succeeds, or fails after `tries`; its output goes nowhere. The script is an argument of
/// the loop's, run by a shell of its own, so any script works (a comment, a quote, an `exit`).
pub fn exec_until(container: &str, script: &str, every: std::time::Duration, tries: u32) -> Cmd {
    let every = format!("{}.{:03}", every.as_secs(), every.subsec_millis());
    let until = format!(
        "n={tries}; until sh -c \"$1\" >/dev/null 2>&1; do n=$((n - 1)); [ \"$n\" -gt 0 ] || exit 1; sleep {every}; done"
    );
    Cmd::new("docker", ["exec", container, "sh", "-c", &until, "probe", script])
}

/// `docker exec`: a command in a running container, with the container's environment and
/// these variables on top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub container: String,
    /// `--interactive --tty`: for a person at a terminal.
    pub terminal: bool,
    pub user: Option<String>,
    pub env: Vec<(String, String)>,
    /// Passed by name (`-e KEY`), as `Run::secret`.
    pub secrets: Vec<(String, String)>,
    pub command: Vec<String>,
}

impl Exec {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(container: &str, command: I) -> Exec {
        Exec {
            container: container.into(),
            terminal: false,
            user: None,
            env: Vec::new(),
            secrets: Vec::new(),
            command: command.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Exec> for Cmd {
    fn from(exec: Exec) -> Cmd {
        let mut args: Vec<String> = vec!["exec".into()];
        if exec.terminal {
            args.extend(["--interactive".into(), "--tty".into()]);
        }
        if let Some(user) = exec.user {
            args.extend(["--user".into(), user]);
        }
        for (key, value) in exec.env {
            args.extend(["-e".into(), format!("{key}={value}")]);
        }
        for (key, _) in &exec.secrets {
            args.extend(["-e".into(), key.clone()]);
        }
        args.push(exec.container);
        args.extend(exec.command);
        let mut cmd = Cmd::new("docker", args);
        cmd.secrets = exec.secrets;
        cmd
    }
}

/// Gives a container another name.
pub fn rename(container: &str, name: &str) -> Cmd {
    Cmd::new("docker", ["rename", container, name])
}

/// Copies a directory out of a container (running or not) to the host.
pub fn copy_out(container: &str, from: &str, to: &str) -> Cmd {
    Cmd::new("docker", ["cp", &format!("{container}:{from}"), to])
}

/// Copies a file or directory of the host into a container (running or not): what is at
/// `from` becomes `to`.
pub fn copy_in(from: &str, container: &str, to: &str) -> Cmd {
    Cmd::new("docker", ["cp", from, &format!("{container}:{to}")])
}

/// Where a published port of a container is on the host: `ADDRESS:PORT`.
pub fn port(container: &str, port: &str) -> Cmd {
    Cmd::new("docker", ["port", container, port])
}

/// The last lines a container printed.
pub fn logs_tail(container: &str, lines: u32) -> Cmd {
    Cmd::new("docker", ["logs", "--tail", &lines.to_string(), container])
}

/// Stops a container as an orchestrator would: SIGTERM, then SIGKILL after docker's 10 s.
pub fn stop(container: &str) -> Cmd {
    Cmd::new("docker", ["stop", container])
}
