//! The lab's volume container `cache`: its /cache keeps pip's cache between test runs.
//! The data lives in a named volume, so it survives the container and works with any engine.
//! Both carry the label `todobackend.cache`. A `cache` container is taken for the project's
//! when its /cache is that volume: the lab's hand-made one (`-v /tmp/cache:/cache`) is not.

use anyhow::{Result, bail};

use super::dev_image;
use crate::docker::{self, CACHE_LABEL, Run};
use crate::project::{CACHE_CONTAINER, CACHE_VOLUME, DEV_IMAGE, Project};
use crate::runner::Runner;

pub fn create(project: &Project, runner: &Runner, reset: bool) -> Result<()> {
    if reset {
        remove(runner)?;
    } else if exists(runner)? {
        runner.step(&format!(
            "The cache container `{CACHE_CONTAINER}` exists (data in volume {CACHE_VOLUME}); `--reset` recreates it"
        ));
        return Ok(());
    }
    make(project, runner)
}

/// Makes the cache container if it is missing, quietly otherwise.
pub fn ensure(project: &Project, runner: &Runner) -> Result<()> {
    if exists(runner)? { Ok(()) } else { make(project, runner) }
}

fn labels() -> Vec<(String, String)> {
    vec![(CACHE_LABEL.into(), CACHE_VOLUME.into())]
}

fn make(project: &Project, runner: &Runner) -> Result<()> {
    dev_image::ensure(project, runner)?;
    runner.step(&format!(
        "Creating the cache container `{CACHE_CONTAINER}` (data in volume {CACHE_VOLUME})"
    ));
    runner.run(&docker::create_volume(CACHE_VOLUME, &labels()))?;
    let volume = format!("{CACHE_VOLUME}:/cache");
    let create = Run::new(DEV_IMAGE)
        .name(CACHE_CONTAINER)
        .labels(&labels())
        .volume(&volume)
        .entrypoint("true");
    match runner.run(&create.into()) {
        // Another run (a second checkout, a parallel CI job) made it first: as good.
        Err(_) if exists(runner)? => Ok(()),
        outcome => outcome,
    }
}

/// Removes the cache container and its volume, unless a container other than `cache` uses
/// the volume (a run in progress, in this checkout or another): then both stay, and say so.
pub fn remove(runner: &Runner) -> Result<()> {
    let users = runner
        .probe(&docker::containers_where(&format!("volume={CACHE_VOLUME}")))?
        .unwrap_or_default();
    let others: Vec<&str> = users.lines().filter(|name| *name != CACHE_CONTAINER).collect();
    if !others.is_empty() {
        runner.step(&format!(
            "Kept the pip cache (`{CACHE_CONTAINER}`, volume {CACHE_VOLUME}): in use by {}",
            others.join(", ")
        ));
        return Ok(());
    }
    if exists(runner)? {
        runner.step(&format!("Removing the cache container `{CACHE_CONTAINER}`"));
        runner.run(&docker::remove_container(CACHE_CONTAINER))?;
    }
    if runner.probe(&docker::volume_name(CACHE_VOLUME))?.is_some() {
        runner.step(&format!("Removing the cache volume {CACHE_VOLUME}"));
        runner.run(&docker::remove_volume(CACHE_VOLUME))?;
    }
    Ok(())
}

/// Whether the project's cache container exists; a container of that name that the
/// project did not make is left alone, and the user told.
pub fn exists(runner: &Runner) -> Result<bool> {
    match runner.probe(&docker::volume_at(CACHE_CONTAINER, "/cache"))? {
        None => Ok(false),
        Some(volume) if volume == CACHE_VOLUME => Ok(true),
        Some(_) => bail!(
            "a container named `{CACHE_CONTAINER}` exists that todobackend did not make: its /cache is not the \
             volume {CACHE_VOLUME} (the lab's hand-made `cache` keeps its data in a host directory): \
             remove or rename it (`docker rm {CACHE_CONTAINER}`), then run this again"
        ),
    }
}
