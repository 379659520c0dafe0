//! Questions to the engine: what it is, and what it holds (images, containers, volumes,
//! networks), each a `docker ... inspect --format` or `version` whose answer a caller reads.

use crate::engine::cmd::Cmd;

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
