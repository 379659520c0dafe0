//! What a run makes and removes by name and label: volumes, networks and containers made
//! labelled, listed by filter, removed one by one or many at once.

use super::labels::PROJECT_LABEL;
use crate::engine::cmd::Cmd;

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
