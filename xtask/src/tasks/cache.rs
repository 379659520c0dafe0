//! The lab's volume container `cache`: its /cache keeps pip's cache between test runs.
//! The data lives in a named volume, so it survives the container and works with any engine.
//! Both carry the label `todobackend.cache`. A `cache` container is taken for the project's
//! when its /cache is that volume: the lab's hand-made one (`-v /tmp/cache:/cache`) is not.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::dev_image;
use crate::docker::{self, CACHE_LABEL, Kind, Run};
use crate::project::{Names, Project};
use crate::runner::Runner;

pub fn create(project: &Project, runner: &Runner, reset: bool) -> Result<()> {
    let Names {
        cache_container,
        cache_volume,
        ..
    } = &project.names;
    if reset {
        remove(project, runner)?;
    } else if exists(project, runner)? {
        runner.step(&format!(
            "The cache container `{cache_container}` exists (data in volume {cache_volume}); `--reset` recreates it"
        ));
        return Ok(());
    }
    make(project, runner)
}

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

fn make(project: &Project, runner: &Runner) -> Result<()> {
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

/// The requirements' wheels, kept between builds (`scripts/wheels.sh`) in a volume every
/// checkout on the engine shares (`Names::wheels_volume`), as it shares the builder's cache:
/// a wheel is the same whichever checkout made it, and a copy of the checkout makes none anew.
const WHEELS_LABEL: (&str, &str) = ("todobackend.wheels", "kept");

/// Whether the engine has the wheels' volume.
pub fn wheels_kept(project: &Project, runner: &Runner) -> Result<bool> {
    Ok(runner
        .probe(&docker::volume_name(&project.names.wheels_volume))?
        .is_some())
}

/// Makes the wheels' volume when it is missing.
pub fn ensure_wheels(project: &Project, runner: &Runner) -> Result<()> {
    if wheels_kept(project, runner)? {
        return Ok(());
    }
    let labels = [(WHEELS_LABEL.0.to_string(), WHEELS_LABEL.1.to_string())];
    runner.run(&docker::create_labelled(
        Kind::Volume,
        &project.names.wheels_volume,
        &labels,
    ))
}

/// Removes the wheels' volume, unless a build is using it; whether it was there. Only one
/// todobackend made: a volume of that name without its label is someone else's.
pub fn remove_wheels(project: &Project, runner: &Runner) -> Result<bool> {
    let volume = &project.names.wheels_volume;
    let ours = format!("label={}={}", WHEELS_LABEL.0, WHEELS_LABEL.1);
    let found = runner.probe(&docker::names(Kind::Volume, &[&format!("name={volume}"), &ours]))?;
    if !found.is_some_and(|names| names.lines().any(|name| name == volume)) {
        return Ok(false);
    }
    runner.step(&format!("Removing the requirements' wheels, volume {volume}"));
    if runner.status(&docker::remove_volume(volume))? != 0 {
        runner.step("Kept it: a build is using it");
    }
    Ok(true)
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
