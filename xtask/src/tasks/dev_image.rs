//! The development image: the lab's `docker build -t todobackend-dev -f docker/dev/Dockerfile .`,
//! labelled with a fingerprint of what it is made of so a run can tell when it is current.

use std::fs;

use anyhow::{Context, Result, bail};

use super::{base_image, image_exists};
use crate::docker::{self, Build};
use crate::project::{DEV_DOCKERFILE, INPUTS_LABEL, OS_IMAGE_FROM_REGISTRY, Project};
use crate::runner::{READ, Runner};

/// Builds the image; returns the id of what it built, which stays right even when another
/// checkout retags `todobackend-dev` meanwhile.
pub fn build(project: &Project, runner: &Runner) -> Result<String> {
    let os = base_image::os_image(project, runner)?;
    let ca = base_image::host_ca()?;
    let inputs = project.dev_image_inputs(&os.id, ca.as_ref().map(|ca| ca.bytes.as_slice()))?;
    let build = Build::new(&project.names.dev_image, DEV_DOCKERFILE).label(INPUTS_LABEL, &inputs);
    let what = "the development image";
    if runner.dry_run() {
        base_image::build_on_os(project, runner, what, build, &os, ca.as_ref())?;
        return Ok(project.names.dev_image.clone());
    }
    let iidfile = runner.scratch("dev.iid")?;
    base_image::build_on_os(project, runner, what, build.iidfile(iidfile.as_str()), &os, ca.as_ref())?;
    let id = fs::read_to_string(&iidfile).with_context(|| format!("docker build wrote no {iidfile}"))?;
    Ok(id.trim().to_string())
}

/// Builds the image only when the engine does not have it yet.
pub fn ensure(project: &Project, runner: &Runner) -> Result<()> {
    if image_exists(runner, &project.names.dev_image)? {
        return Ok(());
    }
    build(project, runner).map(drop)
}

/// The image a test run uses. With the source mounted, the image only has to match the
/// dependencies, so one whose inputs are unchanged is reused without a build.
pub fn for_run(project: &Project, runner: &Runner, source_mounted: bool) -> Result<String> {
    if source_mounted && let State::Current(id) = state(project, runner)? {
        return Ok(id);
    }
    build(project, runner)
}

/// The engine's dev image, against what a build would make now.
pub enum State {
    Missing,
    /// Built from other inputs: another OS image, CA bundle, Dockerfile, script or requirement.
    Stale,
    /// Its id.
    Current(String),
}

/// Whether the engine's dev image is current, in one docker call: the dev image's fingerprint
/// label, and the id of the OS image a build would use now (`base_image::os_image`'s first
/// choice that the engine has).
pub fn state(project: &Project, runner: &Runner) -> Result<State> {
    let names = &project.names;
    let images = [names.dev_image.as_str(), OS_IMAGE_FROM_REGISTRY, &names.os_image];
    let cmd = docker::image_labels(&images, INPUTS_LABEL);
    // It fails when any of them is missing (one OS image always is), and prints the others.
    let inspected = runner.read(&cmd, READ)?;
    if inspected.status.is_none() {
        bail!(
            "`{cmd}` did not finish within {} s: is the engine at {} overloaded or hung?",
            READ.as_secs(),
            runner.endpoint()
        );
    }
    // One line per image the engine has, in the order asked: the dev image's (first, if
    // there) is the one with a fingerprint; an OS image has none (docker prints `<no value>`).
    let mut lines = inspected
        .stdout
        .lines()
        .filter_map(|line| line.split_once(' '))
        .peekable();
    let Some((id, label)) = lines.next_if(|(_, label)| !label.is_empty() && *label != "<no value>") else {
        return Ok(State::Missing);
    };
    let Some((os_image_id, _)) = lines.next() else {
        // A build makes the OS image first.
        return Ok(State::Stale);
    };
    let ca = base_image::host_ca()?;
    let inputs = project.dev_image_inputs(os_image_id, ca.as_ref().map(|ca| ca.bytes.as_slice()))?;
    Ok(if label == inputs {
        State::Current(id.to_string())
    } else {
        State::Stale
    })
}
