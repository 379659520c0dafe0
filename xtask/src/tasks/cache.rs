//! The lab's volume container `cache`: its /cache keeps pip's cache between test runs.
//! The data lives in a named volume, so it survives the container and works with any engine.

use anyhow::{Result, bail};

use super::dev_image;
use crate::docker::{self, PROJECT_LABEL, Run};
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

fn make(project: &Project, runner: &Runner) -> Result<()> {
    dev_image::ensure(project, runner)?;
    runner.step(&format!(
        "Creating the cache container `{CACHE_CONTAINER}` (data in volume {CACHE_VOLUME})"
    ));
    let volume = format!("{CACHE_VOLUME}:/cache");
    let create = Run::new(DEV_IMAGE)
        .name(CACHE_CONTAINER)
        .volume(&volume)
        .entrypoint("true");
    match runner.run(&create.into()) {
        // Another run (a second checkout, a parallel CI job) made it first: as good.
        Err(_) if exists(runner)? => Ok(()),
        outcome => outcome,
    }
}

fn remove(runner: &Runner) -> Result<()> {
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
fn exists(runner: &Runner) -> Result<bool> {
    match runner.probe(&docker::container_project(CACHE_CONTAINER))? {
        None => Ok(false),
        Some(label) if label == PROJECT_LABEL.1 => Ok(true),
        Some(_) => bail!(
            "a container named `{CACHE_CONTAINER}` exists that todobackend did not make (no label {}={}): \
             remove or rename it (`docker rm {CACHE_CONTAINER}`), then run this again",
            PROJECT_LABEL.0,
            PROJECT_LABEL.1
        ),
    }
}
