//! What the workspace manifest declares under `[workspace.metadata.todobackend]`: which
//! settings modules need which services, and how each service runs. Data, not code.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// An hour without a run, and the test worker ends (as build daemons do).
pub const WORKER_IDLE_SECS: u64 = 3600;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The prefix of what the checkout makes on an engine (default `todobackend`).
    pub name: Option<String>,
    /// The OS image this checkout builds from Debian packages where no registry answers
    /// (default `todobackend-os:bookworm`, every checkout's): one of its own lets it remove
    /// that image without touching anyone else's (the bench's copy starts from nothing so).
    pub os_image: Option<String>,
    /// The volume that keeps the requirements' wheels between builds (default
    /// `todobackend-wheels`, every checkout's): one of its own lets it start without any.
    pub wheels_volume: Option<String>,
    /// How long the checkout's warm test worker waits for a run before it ends (seconds,
    /// default `WORKER_IDLE_SECS`).
    #[serde(deserialize_with = "some_seconds")]
    pub worker_idle_secs: Option<u64>,
    pub settings: BTreeMap<String, Settings>,
    pub services: BTreeMap<String, Service>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Names of `services` a run with these settings needs.
    #[serde(default)]
    pub services: Vec<String>,
    /// A directory of the dev container where these settings keep their own data (SQLite's
    /// file), told to the application as DJANGO_DATA_DIR: `serve` keeps it in a volume of
    /// the checkout's.
    pub data: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: String,
    /// Builds `image` when the engine lacks it.
    pub dockerfile: Option<String>,
    /// Given to the service and to the test container.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The variable that tells the test container the service's host name.
    pub host_env: Option<String>,
    /// The variable that tells the test container the service's port.
    pub port_env: Option<String>,
    /// The variable that tells the service to listen on another port than `port`: where it is
    /// given, a local test run's service shares the test worker's network namespace on a port
    /// of the run's own, rather than joining its network (which takes longer).
    pub listen_env: Option<String>,
    /// Variables given fresh random values each run, passed by name only, to the service
    /// and to the test container.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Like `secrets`, for the service alone (an administrator's password the tests never use).
    #[serde(default)]
    pub service_secrets: Vec<String>,
    /// A shell command run inside the service's container that succeeds once it is ready.
    pub ready: Option<String>,
    /// How long `ready` may take to succeed (default 60).
    #[serde(default = "sixty", deserialize_with = "seconds")]
    pub ready_timeout_secs: u64,
    /// The port the application reaches it on: a suite forked by the worker waits, from
    /// there, until it answers (on some engines a network takes a while to join a container
    /// to the ones already on it).
    #[serde(default, deserialize_with = "port")]
    pub port: Option<u16>,
    /// The directory the service keeps its data in: `serve` keeps it in a volume of the
    /// checkout's, with the service's secrets beside it, so data entered while serving
    /// outlives the run.
    pub data: Option<String>,
}

/// The manifest around the table: everything else in it is Cargo's, or other tools'.
#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    workspace: Workspace,
}

#[derive(Default, Deserialize)]
struct Workspace {
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    todobackend: Config,
}

fn sixty() -> u64 {
    60
}

/// A whole number in `range`, refused with what it is for (`expected a port number`) rather
/// than with its Rust type.
struct Whole {
    what: &'static str,
    max: u64,
}

impl Visitor<'_> for Whole {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        u64::try_from(value)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(value), &self))
            .and_then(|value| self.visit_u64(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        match value <= self.max {
            true => Ok(value),
            false => Err(E::invalid_value(de::Unexpected::Unsigned(value), &self)),
        }
    }
}

fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let what = "a number of seconds";
    deserializer.deserialize_u64(Whole { what, max: u64::MAX })
}

fn some_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    seconds(deserializer).map(Some)
}

fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    let what = "a port number (0 to 65535)";
    let port = deserializer.deserialize_u64(Whole {
        what,
        max: u16::MAX.into(),
    })?;
    Ok(u16::try_from(port).ok())
}

fn is_variable_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Config {
    /// Reads the workspace manifest; a manifest without the table declares no services.
    pub fn load(manifest: &Utf8Path) -> Result<Config> {
        let text = std::fs::read_to_string(manifest).with_context(|| format!("cannot read {manifest}"))?;
        Config::parse(&text).with_context(|| format!("{manifest}: bad [workspace.metadata.todobackend]"))
    }

    fn parse(text: &str) -> Result<Config> {
        let config = toml::from_str::<Manifest>(text)?.workspace.metadata.todobackend;
        if let Some(name) = &config.name {
            let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
            if name.is_empty() || !name.chars().all(valid) || name.starts_with('-') {
                bail!("name = {name:?}: use lower-case letters, digits and dashes (it prefixes image names)");
            }
        }
        if let Some(image) = &config.os_image {
            let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.:/".contains(c);
            if image.is_empty() || !image.chars().all(valid) || image.starts_with(['-', ':', '.']) {
                bail!("os_image = {image:?}: an image name, e.g. \"todobackend-os:bookworm\"");
            }
        }
        if let Some(volume) = &config.wheels_volume {
            let valid = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
            if !volume.starts_with(|c: char| c.is_ascii_alphanumeric()) || !volume.chars().all(valid) {
                bail!("wheels_volume = {volume:?}: a volume name, e.g. \"todobackend-wheels\"");
            }
        }
        if config.worker_idle_secs == Some(0) {
            bail!(
                "worker_idle_secs = 0: the test worker would end at once; give 1 or more seconds (default {WORKER_IDLE_SECS})"
            );
        }
        for (name, service) in &config.services {
            // They are passed by name, and written into scripts (`kept`) unquoted.
            let variables = service
                .env
                .keys()
                .chain(&service.secrets)
                .chain(&service.service_secrets);
            let named = [&service.host_env, &service.port_env, &service.listen_env];
            if let Some(bad) = variables
                .chain(named.into_iter().flatten())
                .find(|key| !is_variable_name(key))
            {
                bail!("service `{name}`: `{bad}` is not an environment variable's name (letters, digits, `_`)");
            }
            if service.listen_env.is_some() && (service.port.is_none() || service.port_env.is_none()) {
                bail!("service `{name}`: listen_env needs `port` and `port_env` (what the application is told)");
            }
            if service.ready_timeout_secs == 0 {
                bail!("service `{name}`: ready_timeout_secs must be 1 or more (seconds to wait for `ready`)");
            }
        }
        for (settings, declared) in &config.settings {
            for service in &declared.services {
                if !config.services.contains_key(service) {
                    bail!(
                        "settings `{settings}` need service `{service}`, which no [..services.{service}] table declares"
                    );
                }
            }
        }
        Ok(config)
    }

    /// How long the test worker waits for a run before it ends, in seconds.
    pub fn worker_idle_secs(&self) -> u64 {
        self.worker_idle_secs.unwrap_or(WORKER_IDLE_SECS)
    }

    /// The dev container's directory for `settings`' own data, if they keep any.
    pub fn data_of(&self, settings: &str) -> Option<&str> {
        self.settings.get(settings)?.data.as_deref()
    }

    /// The services a run with `settings` needs, by name.
    pub fn services_for(&self, settings: &str) -> Vec<(&str, &Service)> {
        let Some(declared) = self.settings.get(settings) else {
            return Vec::new();
        };
        declared
            .services
            .iter()
            .filter_map(|name| self.services.get_key_value(name))
            .map(|(name, service)| (name.as_str(), service))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_declares_a_database_for_the_test_settings() {
        let config = Config::load(&crate::project::Project::locate().unwrap().root.join("Cargo.toml")).unwrap();
        let services = config.services_for("test");
        assert_eq!(services.len(), 1);
        let (name, db) = services[0];
        assert_eq!(name, "db");
        assert_eq!(db.host_env.as_deref(), Some("MYSQL_HOST"));
        assert_eq!(db.port_env.as_deref(), Some("MYSQL_PORT"));
        assert_eq!(db.listen_env.as_deref(), Some("MYSQL_TCP_PORT"));
        assert!(db.secrets.contains(&"MYSQL_PASSWORD".to_string()));
        assert!(db.ready.as_deref().unwrap().contains("SELECT 1"));
        assert!(config.services_for("base").is_empty());
    }

    #[test]
    fn the_worker_s_idle_time_is_an_hour_unless_the_manifest_says_otherwise() {
        assert_eq!(Config::parse("").unwrap().worker_idle_secs(), 3600);
        let short = "[workspace.metadata.todobackend]\nworker_idle_secs = 5\n";
        assert_eq!(Config::parse(short).unwrap().worker_idle_secs(), 5);
        let zero = "[workspace.metadata.todobackend]\nworker_idle_secs = 0\n";
        let err = format!("{:#}", Config::parse(zero).unwrap_err());
        assert!(
            err.contains("worker_idle_secs = 0") && err.contains("1 or more"),
            "{err}"
        );
        let words = "[workspace.metadata.todobackend]\nworker_idle_secs = \"an hour\"\n";
        let err = format!("{:#}", Config::parse(words).unwrap_err());
        assert!(err.contains("a number of seconds"), "{err}");
    }

    #[test]
    fn a_checkout_may_name_an_os_image_of_its_own() {
        let own = "[workspace.metadata.todobackend]\nos_image = \"todobackend-bench-os:bookworm\"\n";
        let config = Config::parse(own).unwrap();
        assert_eq!(config.os_image.as_deref(), Some("todobackend-bench-os:bookworm"));
        assert_eq!(Config::parse("").unwrap().os_image, None);
        let own = "[workspace.metadata.todobackend]\nwheels_volume = \"todobackend-bench-wheels\"\n";
        let config = Config::parse(own).unwrap();
        assert_eq!(config.wheels_volume.as_deref(), Some("todobackend-bench-wheels"));
        let bad = "[workspace.metadata.todobackend]\nwheels_volume = \"my wheels\"\n";
        let err = format!("{:#}", Config::parse(bad).unwrap_err());
        assert!(err.contains("wheels_volume = \"my wheels\": a volume name"), "{err}");
    }

    #[test]
    fn a_manifest_without_the_table_declares_nothing() {
        let config = Config::parse("[workspace]\nmembers = [\"xtask\"]\n").unwrap();
        assert!(config.services_for("test").is_empty());
    }

    #[test]
    fn mistakes_in_the_table_are_refused_with_where_they_are() {
        let unknown_service = "[workspace.metadata.todobackend.settings.test]\nservices = [\"redis\"]\n";
        let err = format!("{:#}", Config::parse(unknown_service).unwrap_err());
        assert!(err.contains("service `redis`"), "{err}");

        let zero = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nready_timeout_secs = 0\n";
        let err = format!("{:#}", Config::parse(zero).unwrap_err());
        assert!(err.contains("ready_timeout_secs must be 1 or more"), "{err}");

        let name = "[workspace.metadata.todobackend]\nname = \"Todo Backend\"\n";
        let err = format!("{:#}", Config::parse(name).unwrap_err());
        assert!(err.contains("lower-case letters, digits and dashes"), "{err}");

        let os_image = "[workspace.metadata.todobackend]\nos_image = \"My OS\"\n";
        let err = format!("{:#}", Config::parse(os_image).unwrap_err());
        assert!(err.contains("an image name"), "{err}");

        let variable = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nsecrets = [\"A;B\"]\n";
        let err = format!("{:#}", Config::parse(variable).unwrap_err());
        assert!(err.contains("`A;B` is not an environment variable's name"), "{err}");

        let listen = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nlisten_env = \"P\"\n";
        let err = format!("{:#}", Config::parse(listen).unwrap_err());
        assert!(err.contains("listen_env needs `port` and `port_env`"), "{err}");

        let typo = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nready_timeout = 5\n";
        let err = format!("{:#}", Config::parse(typo).unwrap_err());
        assert!(err.contains("line 3, column 1"), "{err}");
        assert!(
            err.contains("unknown field `ready_timeout`, expected one of `image`,"),
            "{err}"
        );

        let quoted = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nport = \"3306\"\n";
        let err = format!("{:#}", Config::parse(quoted).unwrap_err());
        assert!(
            err.contains("line 3, column 8\n  |\n3 | port = \"3306\"\n  |        ^^^^^^\n"),
            "{err}"
        );
        assert!(
            err.contains("invalid type: string \"3306\", expected a port number"),
            "{err}"
        );

        let too_big = "[workspace.metadata.todobackend.services.db]\nimage = \"x\"\nport = 70000\n";
        let err = format!("{:#}", Config::parse(too_big).unwrap_err());
        assert!(
            err.contains("line 3") && err.contains("integer `70000`, expected a port number"),
            "{err}"
        );

        let no_image = "[workspace.metadata.todobackend.services.db]\nready = \"true\"\n";
        let err = format!("{:#}", Config::parse(no_image).unwrap_err());
        assert!(
            err.contains("line 1, column 1") && err.contains("missing field `image`"),
            "{err}"
        );
    }
}
