//! The lab's volume container `cache`: its /cache keeps pip's cache between test runs.
//! The data lives in a named volume, so it survives the container and works with any engine.
//! Both carry the label `todobackend.cache`. A `cache` container is taken for the project's
//! when its /cache is that volume: the lab's hand-made one (`-v /tmp/cache:/cache`) is not.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::dev_image;
use crate::engine::docker::{self, CACHE_LABEL, Kind, Run};
use crate::project::{Names, Project};
use crate::runner::Runner;

/// Makes the cache container if it is missing, quietly otherwise.
pub fn ensure(project: &Project, runner: &Runner) -> Result<()> {
    if exists(project, runner)? {
        Ok(())
    } else {
        make(project, runner)
    }
}

fn labels(project: &Project) -> Vec<(String, String)> {
    vec![(CACHE_LABEL.into(), project.names.cache_volume.clone())]
}

pub fn make(project: &Project, runner: &Runner) -> Result<()> {
    let Names {
        cache_container,
        cache_volume,
        dev_image,
        ..
    } = &project.names;
    dev_image::ensure(project, runner)?;
    runner.step(&format!(
        "Creating the cache container `{cache_container}` (data in volume {cache_volume})"
    ));
    runner.run(&docker::create_labelled(Kind::Volume, cache_volume, &labels(project)))?;
    let volume = format!("{cache_volume}:/cache");
    // Created, never started: a volume container needs no process, and `docker create`
    // either makes it whole or not at all, where a `docker run` whose start failed leaves a
    // container that only looks made.
    let create = Run::new(dev_image)
        .name(cache_container)
        .labels(&labels(project))
        .volume(&volume)
        .entrypoint("true");
    let failed = match runner.quiet(&docker::create(create)) {
        Ok(_) => return Ok(()),
        Err(failed) if format!("{failed:#}").contains("already in use") => failed,
        Err(failed) => return Err(failed),
    };
    // Another run (a second checkout, a parallel CI job) is making it: the engine refuses the
    // name at once, but shows the container only once it is made. As good, once it is.
    let deadline = Instant::now() + ANOTHER_RUN_MAKES_IT;
    while Instant::now() < deadline {
        if exists(project, runner)? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(failed)
}

/// How long a cache container another run is making may take to show.
const ANOTHER_RUN_MAKES_IT: Duration = Duration::from_secs(10);

/// Removes the cache container and its volume, unless a container other than `cache` uses
/// the volume (a run in progress, in this checkout or another): then both stay, and say so.
/// Whether there was anything to remove.
pub fn remove(project: &Project, runner: &Runner) -> Result<bool> {
    let Names {
        cache_container,
        cache_volume,
        ..
    } = &project.names;
    let users = runner
        .probe(&docker::names(Kind::Container, &[&format!("volume={cache_volume}")]))?
        .unwrap_or_default();
    let others: Vec<&str> = users.lines().filter(|name| *name != cache_container).collect();
    if !others.is_empty() {
        runner.step(&format!(
            "Kept the pip cache (`{cache_container}`, volume {cache_volume}): in use by {}",
            others.join(", ")
        ));
        return Ok(true);
    }
    let mut removed = false;
    if exists(project, runner)? {
        runner.step(&format!("Removing the cache container `{cache_container}`"));
        runner.run(&docker::remove_container(cache_container))?;
        removed = true;
    }
    if runner.probe(&docker::volume_name(cache_volume))?.is_some() {
        runner.step(&format!("Removing the cache volume {cache_volume}"));
        runner.run(&docker::remove_volume(cache_volume))?;
        removed = true;
    }
    Ok(removed)
}

/// Whether the project's cache container exists; a container of that name that the
/// project did not make is left alone, and the user told.
pub fn exists(project: &Project, runner: &Runner) -> Result<bool> {
    let Names {
        cache_container,
        cache_volume,
        ..
    } = &project.names;
    match runner.probe(&docker::volume_at(cache_container, "/cache"))? {
        None => Ok(false),
        Some(volume) if volume == *cache_volume => Ok(true),
        Some(_) => bail!(
            "a container named `{cache_container}` exists that todobackend did not make: its /cache is not the \
             volume {cache_volume} (the lab's hand-made `cache` keeps its data in a host directory): \
             remove or rename it (`docker rm {cache_container}`), then run this again"
        ),
    }
}
