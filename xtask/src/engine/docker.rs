//! Docker invocations as values. Pure: nothing here talks to an engine.

use crate::engine::Builder;
use crate::engine::cmd::{Cmd, Race};

/// The label every image and container of the project carries (as the course's Makefile did).
/// Containers made from a project image inherit it, so it never selects what to remove.
pub const PROJECT_LABEL: (&str, &str) = ("application", "todobackend");
/// Set explicitly on every container and network a run makes: the checkout that made it,
/// and the run. Selection for removal uses these alone, never a label an image passes on.
pub const CHECKOUT_LABEL: &str = "todobackend.checkout";
pub const RUN_LABEL: &str = "todobackend.run";
/// On a volume that keeps what `serve` served, between runs: the settings it is for.
pub const DATA_LABEL: &str = "todobackend.data";
/// Set on the images a checkout builds, so its `clean` finds its dangling ones. Under a key
/// of its own: containers made from the image inherit it, and it selects no container.
pub const BUILT_IN_LABEL: &str = "todobackend.built-in";
/// Set on an image built as one stage alone (`Build::stage`): the stage. The images built
/// on it are not its descendants but its siblings, also built here (see `clean`).
pub const STAGE_LABEL: &str = "todobackend.stage";
/// Set on the pip cache container: the volume it holds.
pub const CACHE_LABEL: &str = "todobackend.cache";

/// `docker build`, with the repository root as the build context unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub tag: String,
    pub dockerfile: String,
    pub context: String,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// A file that receives the built image's id, so a run uses what it built even when
    /// another checkout retags the name meanwhile.
    pub iidfile: Option<String>,
    /// `--target`: only this stage, under a name of its own (`tag`). BuildKit and Buildah
    /// make it an image apart, which no image built on it later takes along: named, it is
    /// neither dangling nor forgotten (`clean --images` removes it).
    pub stage: Option<String>,
    /// Built by the classic builder, which can lose `CACHE_PRUNED`.
    pub classic: bool,
}

/// The classic builder takes a step's image from its cache and makes the next step from it
/// in calls of their own: another client that removes an image meanwhile (`docker rmi`,
/// `clean` in another checkout) takes its untagged parents along, the one the build had just
/// taken among them when nothing else was built on it. The build then fails with one of these,
/// naming that image by its id; run again, it makes the step anew.
pub const CACHE_PRUNED: Race = Race {
    said: &[
        "failed to get digest sha256:",
        "unknown parent image ID sha256:",
        "No such image: sha256:",
        "unable to find image \"sha256:",
    ],
    why: "another client of the engine removed an image this build had taken from its cache",
};

impl Build {
    pub fn new(tag: &str, dockerfile: &str) -> Build {
        Build {
            tag: tag.into(),
            dockerfile: dockerfile.into(),
            context: ".".into(),
            build_args: Vec::new(),
            labels: Vec::new(),
            iidfile: None,
            stage: None,
            classic: false,
        }
    }

    /// Built by `builder`.
    pub fn built_by(mut self, builder: Builder) -> Build {
        self.classic = builder == Builder::Classic;
        self
    }

    /// Builds only the stage `stage`.
    pub fn stage(mut self, stage: &str) -> Build {
        self.stage = Some(stage.into());
        self
    }

    pub fn context(mut self, context: &str) -> Build {
        self.context = context.into();
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Build {
        self.labels.push((key.into(), value.into()));
        self
    }

    pub fn iidfile(mut self, path: &str) -> Build {
        self.iidfile = Some(path.into());
        self
    }

    pub fn build_arg(mut self, key: &str, value: &str) -> Build {
        self.build_args.push((key.into(), value.into()));
        self
    }
}

impl From<Build> for Cmd {
    fn from(build: Build) -> Cmd {
        // The lab's command, then --force-rm: a failed step leaves no stopped container behind.
        let mut args = vec!["build".into()];
        if let Some(stage) = build.stage {
            args.extend(["--target".into(), stage]);
        }
        args.extend(["-t".into(), build.tag]);
        args.extend(["-f".into(), build.dockerfile, "--force-rm".into()]);
        for (key, value) in build.build_args {
            args.extend(["--build-arg".into(), format!("{key}={value}")]);
        }
        for (key, value) in build.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        if let Some(path) = build.iidfile {
            args.extend(["--iidfile".into(), path]);
        }
        args.push(build.context);
        let mut cmd = Cmd::new("docker", args);
        cmd.race = build.classic.then_some(&CACHE_PRUNED);
        cmd
    }
}

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

/// The client's own version line; asks no engine, so it answers whatever the engine does.
pub fn client_version() -> Cmd {
    Cmd::new("docker", ["--version"])
}

/// Docker's client answers at once what `client_version` and `server_facts(false)` ask, and
/// the context's name: `VERSION|COMMIT|CONTEXT|SERVER_VERSION|COMPONENTS` (`engine::docker_facts`).
/// Podman's `docker` fails it (its client knows no context), as does any client without an
/// engine that answers.
pub fn engine_facts() -> Cmd {
    Cmd::new(
        "docker",
        [
            "version",
            "--format",
            "{{.Client.Version}}|{{.Client.GitCommit}}|{{.Client.Context}}|\
             {{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}",
        ],
    )
}

/// Prints the current docker context's name and endpoint (`unix://...`, `tcp://...`), as
/// `NAME|ENDPOINT`. Docker's client only.
pub fn context_endpoint() -> Cmd {
    Cmd::new(
        "docker",
        ["context", "inspect", "--format", "{{.Name}}|{{.Endpoints.docker.Host}}"],
    )
}

/// Prints where the engine keeps images and volumes on its host: Docker's data root, or
/// Podman's store when `docker` is Podman's own client.
pub fn data_root(podman_cli: bool) -> Cmd {
    let format = if podman_cli {
        "{{.Store.GraphRoot}}"
    } else {
        "{{.DockerRootDir}}"
    };
    Cmd::new("docker", ["info", "--format", format])
}

/// Succeeds when Docker's client has the buildx plugin that BuildKit builds go through.
pub fn buildx_version() -> Cmd {
    Cmd::new("docker", ["buildx", "version"])
}

/// The image a `build`, `pull` or `import` command makes: a dry run counts it as made.
pub fn image_made_by(cmd: &Cmd) -> Option<&str> {
    match cmd.args.first().map(String::as_str) {
        Some("build") => cmd
            .args
            .iter()
            .position(|arg| arg == "-t")
            .and_then(|at| cmd.args.get(at + 1)),
        Some("pull") => cmd.args.get(1),
        Some("import") => cmd.args.last(),
        _ => None,
    }
    .map(String::as_str)
}

/// Prints the engine's version and, for Docker's client, `|` and its components (Podman's
/// service names itself there); fails when no engine answers. Podman's own client knows no
/// components.
pub fn server_facts(podman_cli: bool) -> Cmd {
    let format = if podman_cli {
        "{{.Server.Version}}"
    } else {
        "{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
    };
    Cmd::new("docker", ["version", "--format", format])
}

/// Prints an image's id; fails when there is no such image.
pub fn image_id(image: &str) -> Cmd {
    Cmd::new("docker", ["image", "inspect", "--format", "{{.Id}}", image])
}

/// Prints an image's id and the value of one of its labels; fails when there is no such image.
pub fn image_label(image: &str, key: &str) -> Cmd {
    image_labels(&[image], key)
}

/// `image_label` of several images: a line for each the engine has, in the order given, and
/// an exit code of 1 when one is missing.
pub fn image_labels(images: &[&str], key: &str) -> Cmd {
    let format = format!("{{{{.Id}}}} {{{{index .Config.Labels \"{key}\"}}}}");
    Cmd::new(
        "docker",
        ["image", "inspect", "--format", format.as_str()]
            .into_iter()
            .chain(images.iter().copied()),
    )
}

/// Prints the name of the volume mounted at `path` in a container (empty for a bind mount or
/// none); fails when there is no such container.
pub fn volume_at(container: &str, path: &str) -> Cmd {
    let format =
        format!("{{{{range .Mounts}}}}{{{{if eq .Destination \"{path}\"}}}}{{{{.Name}}}}{{{{end}}}}{{{{end}}}}");
    Cmd::new("docker", ["container", "inspect", "--format", &format, container])
}

/// Prints, for each image, `layers` then a comma before each of its layers, one line per
/// image in order: never an empty line, so an image of no layers keeps its place. (`range`,
/// not `join`: Podman's layers are digests, which `join` refuses.)
pub fn image_layers(images: &[String]) -> Cmd {
    let args = [
        "image",
        "inspect",
        "--format",
        "layers{{range .RootFS.Layers}},{{.}}{{end}}",
    ];
    Cmd::new(
        "docker",
        args.iter().map(|arg| arg.to_string()).chain(images.iter().cloned()),
    )
}

/// Makes a named network or volume, labelled as the project's and with `labels` (an existing
/// volume is left as it is).
pub fn create_labelled(kind: Kind, name: &str, labels: &[(String, String)]) -> Cmd {
    let mut args = vec![
        match kind {
            Kind::Network => "network",
            _ => "volume",
        }
        .to_string(),
        "create".into(),
    ];
    for (key, value) in std::iter::once(&(PROJECT_LABEL.0.into(), PROJECT_LABEL.1.into())).chain(labels) {
        args.extend(["--label".into(), format!("{key}={value}")]);
    }
    args.push(name.into());
    Cmd::new("docker", args)
}

/// Prints a volume's name; fails when there is no such volume.
pub fn volume_name(volume: &str) -> Cmd {
    Cmd::new("docker", ["volume", "inspect", "--format", "{{.Name}}", volume])
}

/// Prints a network's name; fails when there is no such network.
pub fn network_name(network: &str) -> Cmd {
    Cmd::new("docker", ["network", "inspect", "--format", "{{.Name}}", network])
}

/// Prints the value of a volume's label `key`; fails when there is no such volume.
pub fn volume_label(volume: &str, key: &str) -> Cmd {
    let format = format!("{{{{index .Labels \"{key}\"}}}}");
    Cmd::new("docker", ["volume", "inspect", "--format", format.as_str(), volume])
}

pub fn pull(image: &str) -> Cmd {
    Cmd::new("docker", ["pull", image])
}

/// Makes an image of a root filesystem tarball, labelled as the project's (one `--change`
/// per label: Podman takes the rest of a line as the first label's value).
pub fn import(tarball: &str, tag: &str) -> Cmd {
    let label = format!("LABEL {}={}", PROJECT_LABEL.0, PROJECT_LABEL.1);
    Cmd::new(
        "docker",
        [
            "import",
            "--change",
            &label,
            "--change",
            "LABEL todobackend.image=os",
            "--change",
            r#"CMD ["bash"]"#,
            tarball,
            tag,
        ],
    )
}

/// Removes a container with its anonymous volumes.
pub fn remove_container(container: &str) -> Cmd {
    remove_all(Kind::Container, &[container.into()])
}

pub fn remove_volume(volume: &str) -> Cmd {
    remove_all(Kind::Volume, &[volume.into()])
}

pub fn remove_network(network: &str) -> Cmd {
    remove_all(Kind::Network, &[network.into()])
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

/// Gives `image` another name, `reference` (`HOST:PORT/REPOSITORY:TAG`).
pub fn tag(image: &str, reference: &str) -> Cmd {
    Cmd::new("docker", ["tag", image, reference])
}

pub fn push(reference: &str) -> Cmd {
    Cmd::new("docker", ["push", reference])
}

/// Logs in to `registry` as `username`, the password on standard input: never in argv, in
/// the output, or in the client's environment.
pub fn login(registry: &str, username: &str, password: &str) -> Cmd {
    let mut cmd = Cmd::new(
        "docker",
        ["login", "--username", username, "--password-stdin", registry],
    );
    cmd.input = Some(format!("{password}\n"));
    cmd
}

/// Prints the digests an image has in registries, `HOST/REPOSITORY@sha256:...`, one a line.
pub fn repo_digests(image: &str) -> Cmd {
    Cmd::new(
        "docker",
        [
            "image",
            "inspect",
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            image,
        ],
    )
}

/// The last lines a container printed.
pub fn logs_tail(container: &str, lines: u32) -> Cmd {
    Cmd::new("docker", ["logs", "--tail", &lines.to_string(), container])
}

/// Whether a container is still running: prints `true` or `false`.
pub fn container_running(container: &str) -> Cmd {
    Cmd::new(
        "docker",
        ["container", "inspect", "--format", "{{.State.Running}}", container],
    )
}

/// A container's `RUNNING|LABEL`: whether it runs, and the value of its label `key`.
pub fn container_state_and_label(container: &str, key: &str) -> Cmd {
    let format = format!("{{{{.State.Running}}}}|{{{{index .Config.Labels \"{key}\"}}}}");
    Cmd::new("docker", ["container", "inspect", "--format", &format, container])
}

/// An image's size in bytes, as `docker images` counts it (its layers, the base's included).
pub fn image_size(image: &str) -> Cmd {
    Cmd::new("docker", ["image", "inspect", "--format", "{{.Size}}", image])
}

/// A running container's address on its networks, one a line.
pub fn container_address(container: &str) -> Cmd {
    Cmd::new(
        "docker",
        [
            "container",
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}",
            container,
        ],
    )
}

/// A running container's address on `network`, empty where it has none there (an IPv6-only
/// network has no IPv4 `IPAddress`).
pub fn container_address_on(container: &str, network: &str) -> Cmd {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    Cmd::new("docker", ["container", "inspect", "--format", &format, container])
}

/// Stops a container as an orchestrator would: SIGTERM, then SIGKILL after docker's 10 s.
pub fn stop(container: &str) -> Cmd {
    Cmd::new("docker", ["stop", container])
}

/// What of one kind matches every filter (`label=KEY=VALUE`, `dangling=true`,
/// `ancestor=IMAGE` (its containers and those of images built on it), `volume=NAME`), one
/// line each in `format`; containers whether running or not.
pub fn list(kind: Kind, filters: &[&str], format: &str) -> Cmd {
    let verb: &[&str] = match kind {
        Kind::Container => &["container", "ls", "--all"],
        Kind::Network => &["network", "ls"],
        Kind::Volume => &["volume", "ls"],
        Kind::Image => &["image", "ls"],
    };
    let filters = filters.iter().flat_map(|filter| ["--filter", filter]);
    Cmd::new(
        "docker",
        verb.iter().copied().chain(filters).chain(["--format", format]),
    )
}

/// The names (ids, for images) of what of one kind matches every filter.
pub fn names(kind: Kind, filters: &[&str]) -> Cmd {
    let format = match kind {
        Kind::Container => "{{.Names}}",
        Kind::Network | Kind::Volume => "{{.Name}}",
        Kind::Image => "{{.ID}}",
    };
    list(kind, filters, format)
}

/// The value of label `key` of each of `names`, one line each ("" where it has none). By
/// `inspect`, whose format is the same on Docker and Podman: `ls` formats differ (Podman's
/// have no `.Label`, and Docker's `.Labels` of a container is a string, not a map).
pub fn label_values(kind: Kind, names: &[String], key: &str) -> Cmd {
    let (verb, labels) = match kind {
        Kind::Container => ("container", ".Config.Labels"),
        Kind::Image => ("image", ".Config.Labels"),
        Kind::Network => ("network", ".Labels"),
        Kind::Volume => ("volume", ".Labels"),
    };
    let format = format!("{{{{index {labels} \"{key}\"}}}}");
    Cmd::new(
        "docker",
        [verb, "inspect", "--format", &format]
            .into_iter()
            .map(String::from)
            .chain(names.iter().cloned()),
    )
}

/// Removes things of one kind, by name or id; containers with their anonymous volumes.
pub fn remove_all(kind: Kind, names: &[String]) -> Cmd {
    let verb: &[&str] = match kind {
        Kind::Container => &["rm", "--force", "--volumes"],
        Kind::Network => &["network", "rm"],
        Kind::Volume => &["volume", "rm"],
        // Never forced: an image a container uses stays, and docker says which.
        Kind::Image => &["rmi"],
    };
    Cmd::new(
        "docker",
        verb.iter().map(|s| s.to_string()).chain(names.iter().cloned()),
    )
}

/// `cmds` with each run of consecutive container removals (`remove_all` of containers) made
/// one: a run's cleanup removes its containers in one call, which the engine serves at once.
pub fn merge_removals(cmds: impl IntoIterator<Item = Cmd>) -> Vec<Cmd> {
    const REMOVE: [&str; 3] = ["rm", "--force", "--volumes"];
    let removes =
        |cmd: &Cmd| cmd.program == "docker" && cmd.args.starts_with(&REMOVE.map(String::from)) && cmd.env.is_empty();
    let mut merged: Vec<Cmd> = Vec::new();
    for cmd in cmds {
        match merged.last_mut() {
            Some(last) if removes(last) && removes(&cmd) => last.args.extend(cmd.args[REMOVE.len()..].iter().cloned()),
            _ => merged.push(cmd),
        }
    }
    merged
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Container,
    Network,
    Volume,
    Image,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_asks_an_image_s_size_a_container_s_addresses_and_stops_it_gracefully() {
        assert_eq!(
            image_size("todobackend-release").to_string(),
            "docker image inspect --format '{{.Size}}' todobackend-release"
        );
        assert_eq!(
            container_address("app").to_string(),
            "docker container inspect --format '{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}' app"
        );
        assert_eq!(stop("app").to_string(), "docker stop app");
    }

    #[test]
    fn a_container_s_address_is_asked_on_one_network() {
        assert_eq!(
            argv(container_address_on("run-db", "run")),
            [
                "docker",
                "container",
                "inspect",
                "--format",
                r#"{{(index .NetworkSettings.Networks "run").IPAddress}}"#,
                "run-db"
            ]
        );
    }

    fn argv(cmd: impl Into<Cmd>) -> Vec<String> {
        let cmd = cmd.into();
        std::iter::once(cmd.program.to_string()).chain(cmd.args).collect()
    }

    #[test]
    fn the_engine_check_asks_the_client_the_server_in_docker_s_or_podman_s_terms_and_the_context() {
        assert_eq!(
            argv(engine_facts()),
            [
                "docker",
                "version",
                "--format",
                "{{.Client.Version}}|{{.Client.GitCommit}}|{{.Client.Context}}|\
                 {{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
            ]
        );
        assert_eq!(argv(client_version()), ["docker", "--version"]);
        assert_eq!(
            argv(server_facts(false)),
            [
                "docker",
                "version",
                "--format",
                "{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
            ]
        );
        assert_eq!(
            argv(server_facts(true)),
            ["docker", "version", "--format", "{{.Server.Version}}"]
        );
        assert_eq!(
            argv(context_endpoint()),
            [
                "docker",
                "context",
                "inspect",
                "--format",
                "{{.Name}}|{{.Endpoints.docker.Host}}"
            ]
        );
    }

    #[test]
    fn build_uses_the_root_as_context_and_passes_build_args() {
        let build =
            Build::new("todobackend-base", "docker/base/Dockerfile").build_arg("OS_IMAGE", "debian:bookworm-slim");
        assert_eq!(
            argv(build),
            [
                "docker",
                "build",
                "-t",
                "todobackend-base",
                "-f",
                "docker/base/Dockerfile",
                "--force-rm",
                "--build-arg",
                "OS_IMAGE=debian:bookworm-slim",
                ".",
            ]
        );
    }

    #[test]
    fn only_a_classic_build_runs_again_and_only_when_its_cached_image_went() {
        let build = || Build::new("todobackend-base", "docker/base/Dockerfile");
        let classic = Cmd::from(build().built_by(Builder::Classic));
        assert_eq!(classic.race, Some(&CACHE_PRUNED));
        for builder in [Builder::BuildKit, Builder::Buildah] {
            assert_eq!(Cmd::from(build().built_by(builder)).race, None);
        }
        // What the classic builder (Docker 20.10) said, each step's image removed at another point
        let id = "sha256:78da29c9d00d61fbcba6dce684fbe7ffd7fb8dafde449b4abfcda8f110ddd533";
        let lost = [
            format!(
                "failed to get digest {id}: open /var/lib/docker/image/overlay2/imagedb/content/{id}: no such file or directory"
            ),
            format!("failed to export image: failed to set parent {id}: unknown parent image ID {id}"),
            format!("No such image: {id}"),
            format!("unable to find image \"{id}\""),
        ];
        for said in lost {
            assert!(CACHE_PRUNED.lost(&format!("Step 4/16 : LABEL a=b\n{said}\n")), "{said}");
        }
        let failed = [
            "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist",
            "The command '/bin/sh -c apt-get install x' returned a non-zero code: 100",
            "Error response from daemon: No such image: todobackend-os:bookworm",
        ];
        for said in failed {
            assert!(!CACHE_PRUNED.lost(said), "{said}");
        }
    }

    #[test]
    fn a_stage_is_built_alone_under_its_own_name() {
        let build = Build::new("todobackend-tools", "docker/dev/Dockerfile")
            .stage("tools")
            .iidfile("tools.iid");
        assert_eq!(
            argv(build),
            [
                "docker",
                "build",
                "--target",
                "tools",
                "-t",
                "todobackend-tools",
                "-f",
                "docker/dev/Dockerfile",
                "--force-rm",
                "--iidfile",
                "tools.iid",
                ".",
            ]
        );
    }

    #[test]
    fn run_puts_options_before_the_image_and_secrets_in_the_environment() {
        let run = Run::new("todobackend-db")
            .detach()
            .remove_after()
            .name("run-db")
            .labels(&[("todobackend.run".into(), "run".into())])
            .network("run", Some("db"))
            .tmpfs("/var/lib/mysql")
            .host("cache-db", "10.89.0.2")
            .volumes_from("cache")
            .publish("127.0.0.1:8000:8000")
            .env("MYSQL_USER", "todo")
            .secret("MYSQL_PASSWORD", "hunter2")
            .command(["mariadbd", "--verbose"]);
        let cmd: Cmd = run.into();
        assert_eq!(
            argv(cmd.clone()),
            [
                "docker",
                "run",
                "--detach",
                "--rm",
                "--name",
                "run-db",
                "--label",
                "application=todobackend",
                "--label",
                "todobackend.run=run",
                "--network",
                "run",
                "--network-alias",
                "db",
                "--add-host",
                "cache-db:10.89.0.2",
                "--tmpfs",
                "/var/lib/mysql",
                "--volumes-from",
                "cache",
                "-p",
                "127.0.0.1:8000:8000",
                "-e",
                "MYSQL_USER=todo",
                "-e",
                "MYSQL_PASSWORD",
                "todobackend-db",
                "mariadbd",
                "--verbose",
            ]
        );
        // The password travels in the client's environment only.
        assert_eq!(cmd.secrets, [("MYSQL_PASSWORD".to_string(), "hunter2".to_string())]);
    }

    #[test]
    fn a_readiness_probe_repeats_in_the_container_as_an_argument_of_a_bounded_loop() {
        let probe = exec_until(
            "run-db",
            r#"MYSQL_PWD="$MYSQL_PASSWORD" mysql -e "SELECT 1" # it's up"#,
            std::time::Duration::from_millis(20),
            250,
        );
        assert_eq!(
            argv(probe),
            [
                "docker",
                "exec",
                "run-db",
                "sh",
                "-c",
                r#"n=250; until sh -c "$1" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -gt 0 ] || exit 1; sleep 0.020; done"#,
                "probe",
                r#"MYSQL_PWD="$MYSQL_PASSWORD" mysql -e "SELECT 1" # it's up"#,
            ]
        );
    }

    #[test]
    fn a_published_port_and_copies_in_and_out_name_the_container() {
        let run = Run::new("todobackend-release")
            .name("run-app")
            .publish("127.0.0.1::8000");
        assert_eq!(
            argv(run),
            [
                "docker",
                "run",
                "--name",
                "run-app",
                "--label",
                "application=todobackend",
                "-p",
                "127.0.0.1::8000",
                "todobackend-release",
            ]
        );
        assert_eq!(
            argv(copy_in("acceptance", "run-acceptance", "/acceptance")),
            ["docker", "cp", "acceptance", "run-acceptance:/acceptance"]
        );
        assert_eq!(
            argv(port("run-app", "8000/tcp")),
            ["docker", "port", "run-app", "8000/tcp"]
        );
    }

    #[test]
    fn login_takes_the_password_on_stdin_and_never_shows_it() {
        let cmd = login("127.0.0.1:5000", "ci", "hunter2");
        assert_eq!(
            argv(cmd.clone()),
            [
                "docker",
                "login",
                "--username",
                "ci",
                "--password-stdin",
                "127.0.0.1:5000"
            ]
        );
        assert_eq!(cmd.input.as_deref(), Some("hunter2\n"));
        assert!(!cmd.to_string().contains("hunter2"), "{cmd}");
        assert!(cmd.secrets.is_empty() && cmd.env.is_empty());
    }

    #[test]
    fn a_volume_container_is_named_and_overrides_the_entrypoint() {
        let run = Run::new("todobackend-dev")
            .name("cache")
            .volume("todobackend-cache:/cache")
            .entrypoint("true");
        assert_eq!(
            argv(run),
            [
                "docker",
                "run",
                "--name",
                "cache",
                "--label",
                "application=todobackend",
                "-v",
                "todobackend-cache:/cache",
                "--entrypoint",
                "true",
                "todobackend-dev",
            ]
        );
    }

    #[test]
    fn listings_take_every_filter_and_containers_include_stopped_ones() {
        assert_eq!(
            argv(names(Kind::Container, &["label=todobackend.run=r", "volume=v"])),
            [
                "docker",
                "container",
                "ls",
                "--all",
                "--filter",
                "label=todobackend.run=r",
                "--filter",
                "volume=v",
                "--format",
                "{{.Names}}"
            ]
        );
        let names = ["n1".to_string(), "n2".to_string()];
        assert_eq!(
            argv(label_values(Kind::Network, &names, "todobackend.run")),
            [
                "docker",
                "network",
                "inspect",
                "--format",
                r#"{{index .Labels "todobackend.run"}}"#,
                "n1",
                "n2"
            ]
        );
        assert_eq!(
            argv(label_values(Kind::Container, &names[..1], "todobackend.run")),
            [
                "docker",
                "container",
                "inspect",
                "--format",
                r#"{{index .Config.Labels "todobackend.run"}}"#,
                "n1"
            ]
        );
    }

    #[test]
    fn consecutive_container_removals_become_one() {
        let cmds = [
            remove_container("run-test"),
            remove_container("run-db"),
            remove_network("run"),
            remove_container("run-other"),
        ];
        assert_eq!(
            merge_removals(cmds).iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "docker rm --force --volumes run-test run-db",
                "docker network rm run",
                "docker rm --force --volumes run-other",
            ]
        );
    }

    #[test]
    fn a_dry_run_knows_which_image_a_command_makes() {
        let build = Build::new("todobackend-base", "docker/base/Dockerfile").build_arg("OS_IMAGE", "x");
        assert_eq!(image_made_by(&build.into()), Some("todobackend-base"));
        assert_eq!(
            image_made_by(&pull("debian:bookworm-slim")),
            Some("debian:bookworm-slim")
        );
        assert_eq!(
            image_made_by(&import("rootfs.tar", "todobackend-os:bookworm")),
            Some("todobackend-os:bookworm")
        );
        assert_eq!(image_made_by(&remove_volume("todobackend-cache")), None);
    }

    #[test]
    fn volume_at_names_the_volume_mounted_at_a_path() {
        assert_eq!(
            argv(volume_at("cache", "/cache")),
            [
                "docker",
                "container",
                "inspect",
                "--format",
                r#"{{range .Mounts}}{{if eq .Destination "/cache"}}{{.Name}}{{end}}{{end}}"#,
                "cache"
            ]
        );
    }

    #[test]
    fn import_labels_the_os_image() {
        assert_eq!(
            argv(import("rootfs.tar", "todobackend-os:bookworm")),
            [
                "docker",
                "import",
                "--change",
                "LABEL application=todobackend",
                "--change",
                "LABEL todobackend.image=os",
                "--change",
                r#"CMD ["bash"]"#,
                "rootfs.tar",
                "todobackend-os:bookworm",
            ]
        );
    }
}
