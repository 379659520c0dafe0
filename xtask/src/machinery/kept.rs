//! What `serve` keeps between runs: the data entered while serving, in volumes of the
//! checkout's (`Project::data_volume`), which no run's cleanup removes; `clean --data` does.
//!
//! A service's data is useless without the passwords it was initialised with, so they are
//! kept with it: written into its data directory once the service first proved ready (before
//! anything is served, so a volume without them holds nothing anyone entered), and read back
//! before it starts again. Data and passwords live and go together, wherever the engine is.

use anyhow::{Result, bail};

use crate::console::say;
use crate::engine::docker::{self, CHECKOUT_LABEL, DATA_LABEL, Kind, Run};
use crate::project::{DataVolume, Project};
use crate::runner::{READ, Runner};

/// The file in a service's data directory that holds its secrets, `KEY=VALUE` a line.
const SECRETS_FILE: &str = ".todobackend-secrets";

/// Makes `volume` unless the checkout has it already; whether it was made now. A volume of
/// that name that this checkout did not make is refused, never used or removed.
pub fn ensure(runner: &Runner, volume: &DataVolume) -> Result<bool> {
    let checkout = volume
        .labels
        .iter()
        .find_map(|(key, value)| (key == CHECKOUT_LABEL).then_some(value))
        .expect("a data volume is labelled with its checkout");
    match runner.probe(&docker::volume_label(&volume.name, CHECKOUT_LABEL))? {
        Some(owner) if owner == *checkout => Ok(false),
        Some(_) => bail!(
            "a volume named {} exists that this checkout ({checkout}) did not make: remove or rename it \
             (`docker volume rm {}`) if it is nobody's",
            volume.name,
            volume.name
        ),
        None => {
            runner.run(&docker::create_labelled(Kind::Volume, &volume.name, &volume.labels))?;
            Ok(true)
        }
    }
}

/// The secrets (`keys`) a service keeping its data in `volume` (at `data` in its `image`)
/// was initialised with: `None` when the volume is new, for the service to initialise with
/// fresh ones and `remember` them. A volume without them is made anew.
pub fn secrets(
    runner: &Runner,
    volume: &DataVolume,
    image: &str,
    data: &str,
    keys: &[String],
) -> Result<Option<Vec<(String, String)>>> {
    if ensure(runner, volume)? {
        return Ok(None);
    }
    if let Some(secrets) = read_secrets(runner, volume, image, data, keys)? {
        return Ok(Some(secrets));
    }
    say!(
        "   the volume {} has no record of its passwords (a serve stopped while starting, before \
         anything was served): making it anew",
        volume.name
    );
    runner.run(&docker::remove_volume(&volume.name))?;
    ensure(runner, volume)?;
    Ok(None)
}

/// The secrets `keys` kept in the existing `volume` (see `secrets`); `None` when it has no
/// record of them.
pub fn read_secrets(
    runner: &Runner,
    volume: &DataVolume,
    image: &str,
    data: &str,
    keys: &[String],
) -> Result<Option<Vec<(String, String)>>> {
    if runner.dry_run() {
        // Reading them takes a container: a dry run starts none, and shows secrets as *** anyway.
        return Ok(Some(keys.iter().map(|key| (key.clone(), "kept".into())).collect()));
    }
    let read = Run::new(image)
        .remove_after()
        .labels(&runner.run_name().labels)
        .volume(&format!("{}:{data}", volume.name))
        .entrypoint("cat")
        .command([format!("{data}/{SECRETS_FILE}")]);
    let found = runner.read(&read.into(), READ)?;
    if !found.ok() {
        if !found.stderr.contains("No such file") {
            bail!(
                "cannot read the secrets kept in the volume {}: {}",
                volume.name,
                found.stderr.trim()
            );
        }
        return Ok(None);
    }
    let kept: Vec<(String, String)> = found
        .stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let mut secrets = Vec::new();
    for key in keys {
        let Some((_, value)) = kept.iter().find(|(kept, _)| kept == key) else {
            bail!(
                "the volume {} keeps data made without {key}, which Cargo.toml now declares: \
                 `cargo xtask clean --data` removes the volume (and the data in it), then serve again",
                volume.name
            );
        };
        secrets.push((key.clone(), value.clone()));
    }
    Ok(Some(secrets))
}

/// Writes the secrets `keys` of the running `container` (its environment has them) into its
/// data directory `data`, readable by root alone.
pub fn remember(runner: &Runner, container: &str, data: &str, keys: &[String]) -> Result<()> {
    let lines: String = keys.iter().map(|key| format!("echo {key}=\"${key}\"; ")).collect();
    let script = format!("umask 077 && {{ {lines}}} > '{data}/{SECRETS_FILE}'");
    runner.run(&docker::exec_sh(container, &script))
}

/// The checkout's volumes of kept data, by name.
pub fn volumes(project: &Project, runner: &Runner) -> Result<Vec<String>> {
    let checkout = format!("label={CHECKOUT_LABEL}={}", project.root);
    let kept = runner.probe(&docker::names(
        Kind::Volume,
        &[&checkout, &format!("label={DATA_LABEL}")],
    ))?;
    Ok(kept.unwrap_or_default().lines().map(String::from).collect())
}

/// Says which volumes of kept data a `clean` without `--data` left, and how to remove them.
pub fn say_kept(project: &Project, runner: &Runner) -> Result<()> {
    let volumes = volumes(project, runner)?;
    if !volumes.is_empty() {
        runner.step(&format!(
            "Kept the data `serve` kept ({}); `cargo xtask clean --data` removes it too",
            volumes.join(", ")
        ));
    }
    Ok(())
}

/// Removes the checkout's kept data (`serve` starts afresh without it), but for what a run in
/// progress uses, which docker keeps and names; whether there was any.
pub fn remove(project: &Project, runner: &Runner) -> Result<bool> {
    let volumes = volumes(project, runner)?;
    if volumes.is_empty() {
        return Ok(false);
    }
    runner.step(&format!("Removing the data kept by `serve`: {}", volumes.join(", ")));
    if runner.status(&docker::remove_all(Kind::Volume, &volumes))? != 0 {
        runner.step("Kept the volumes docker named above: a run in progress uses them");
    }
    Ok(true)
}
