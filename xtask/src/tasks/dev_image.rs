//! The development image: the lab's `docker build -t todobackend-dev -f docker/dev/Dockerfile .`,
//! labelled with a fingerprint of what it is made of so a run can tell when it is current.

use std::fs;

use anyhow::{Context, Result};

use super::base_image::{self, State};
use super::image_exists;
use crate::cmd::Cmd;
use crate::docker::Build;
use crate::project::{DEV_DOCKERFILE, INPUTS_LABEL, Project};
use crate::runner::{Finished, READ, Runner};

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
    if source_mounted {
        return current_or_built(project, runner, state(project, runner)?);
    }
    build(project, runner)
}

/// The id of the dev image `state` found current, else of the one built now.
pub fn current_or_built(project: &Project, runner: &Runner, state: State) -> Result<String> {
    match state {
        State::Current(id) => Ok(id),
        State::Missing | State::Stale => build(project, runner),
    }
}

/// The engine's dev image, against what a build would make now.
pub fn state(project: &Project, runner: &Runner) -> Result<State> {
    let question = state_question(project);
    let answer = runner.read(&question, READ)?;
    state_from(project, runner, &question, answer)
}

/// What `state` asks the engine, for a run that asks other things at once.
pub fn state_question(project: &Project) -> Cmd {
    base_image::image_state_question(project, &project.names.dev_image)
}

/// What the answer to `state_question` says.
pub fn state_from(project: &Project, runner: &Runner, question: &Cmd, answer: Finished) -> Result<State> {
    let ca = base_image::host_ca()?;
    base_image::state_from(runner, question, answer, |os_image_id| {
        project.dev_image_inputs(os_image_id, ca.as_ref().map(|ca| ca.bytes.as_slice()))
    })
}
