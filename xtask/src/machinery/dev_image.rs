//! The development image: the lab's `docker build -t todobackend-dev -f docker/dev/Dockerfile .`,
//! labelled with a fingerprint of what it is made of so a run can tell when it is current.

use std::fs;

use anyhow::{Context, Result};

use super::containers::{image_exists, image_id};
use super::images::{self, State};
use super::services;
use crate::config::Service;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build, Kind, Run};
use crate::project::{self, DEV_DOCKERFILE, INPUTS_LABEL, Project, TOOLS_LABEL};
use crate::runner::{Finished, READ, Runner};

/// The Dockerfile's stage with Python and the tools that build wheels (`scripts/wheels.sh`).
const TOOLS_STAGE: &str = "tools";
/// Where the wheels container has the wheels kept between builds, and makes the build's.
const KEPT: &str = "/kept";
const WHEELS: &str = "/wheels";
/// The requirements files, in `src/`: the test ones include the others.
const REQUIREMENTS: [&str; 2] = ["requirements.txt", "requirements_test.txt"];

/// Builds the image; returns the id of what it built, which stays right even when another
/// checkout retags `todobackend-dev` meanwhile. First its `tools` stage (or the one the
/// engine's dev image was built on, when it would be the same), in which the requirements'
/// wheels are made, from those kept where it can (`wheels`); the image installs them offline.
/// Meanwhile, the images `beside` names are built too.
pub fn build(project: &Project, runner: &Runner, beside: &Beside) -> Result<String> {
    let os = images::os_image(project, runner)?;
    let ca = images::host_ca()?;
    let mut started = services::build_beside(project, runner, &beside.services, &os)?;
    if beside.base_image {
        started.push(images::build_beside(project, runner, &os, ca.as_ref())?);
    }
    let ca_bytes = ca.as_ref().map(|ca| ca.bytes.as_slice());
    let inputs = project.dev_image_inputs(&os.id, ca_bytes)?;
    let tools_inputs = project.tools_inputs(&os.id, ca_bytes)?;
    let tools = match tools_of_the_image(project, runner, &tools_inputs)? {
        Some(tools) => tools,
        None => {
            let tools = Build::new(&project.names.tools_image, DEV_DOCKERFILE).stage(TOOLS_STAGE);
            let what = "the development image's build tools";
            images::build_on_os(project, runner, what, tools, &os, ca.as_ref())?
        }
    };
    let wheels = wheels(project, runner, &tools)?;
    let build = Build::new(&project.names.dev_image, DEV_DOCKERFILE)
        .label(INPUTS_LABEL, &inputs)
        .label(TOOLS_LABEL, &format!("{tools_inputs}:{tools}"))
        .build_arg("WHEELS", &wheels);
    let id = images::build_on_os(project, runner, "the development image", build, &os, ca.as_ref())?;
    for build in started {
        build.done(runner)?;
    }
    Ok(id)
}

/// What a run builds beside the dev image when it builds it: siblings on the same OS image,
/// so neither waits for the other, and the dev image's build leaves a core idle where the
/// machine has two (apt, pip and the builder's commits are mostly one process at a time).
#[derive(Default)]
pub struct Beside<'a> {
    /// The services whose images are built where they are not current.
    pub services: Vec<&'a Service>,
    /// The base image (`release` builds both).
    pub base_image: bool,
}

impl<'a> Beside<'a> {
    /// The images of the services `settings` needs.
    pub fn services_of(project: &'a Project, settings: &str) -> Beside<'a> {
        Beside {
            services: project
                .config
                .services_for(settings)
                .into_iter()
                .map(|(_, service)| service)
                .collect(),
            base_image: false,
        }
    }
}

/// The `tools` stage the engine's dev image was built on, when it is still there and made of
/// what it would be made of now: a requirements change then costs no build of the stage (a
/// cached one is still half a second of the classic builder's steps).
fn tools_of_the_image(project: &Project, runner: &Runner, inputs: &str) -> Result<Option<String>> {
    let label = runner.probe(&docker::image_labels(&[&project.names.dev_image], TOOLS_LABEL))?;
    // `<dev image id> <tools inputs>:<tools id>`
    let tools = label
        .as_deref()
        .and_then(|label| label.split_once(' '))
        .and_then(|(_, label)| label.split_once(':'))
        .filter(|(built_from, _)| *built_from == inputs)
        .map(|(_, tools)| tools.to_string());
    match tools {
        // BuildKit and Buildah keep no stage as a parent of the image: it may have gone
        Some(tools) => image_id(runner, &tools),
        None => Ok(None),
    }
}

/// Makes the wheels of the test requirements in a container of the `tools` image, from those
/// kept between builds where they are all there (offline), and stages them for the build: the
/// path, relative to the root, of a directory of the run's own. Through `docker cp`, not a
/// bind mount: the same on a remote engine, and the files the host's user's.
fn wheels(project: &Project, runner: &Runner, tools: &str) -> Result<String> {
    runner.step("Making the requirements' wheels, from those kept where they are all there");
    ensure_wheels(project, runner)?;
    let run = runner.run_name();
    let name = run.container("wheels");
    let maker = Run::new(tools)
        .name(&name)
        .labels(&run.labels)
        .volume(&format!("{}:{KEPT}", project.names.wheels_volume))
        .command(["wheels.sh", "/tmp/requirements_test.txt", KEPT, WHEELS]);
    let remove = docker::remove_container(&name);
    runner.make(&docker::create(maker), remove.clone())?;
    for file in REQUIREMENTS {
        runner.run(&docker::copy_in(&format!("src/{file}"), &name, &format!("/tmp/{file}")))?;
    }
    runner.run(&docker::start_attached(&name))?;
    let staged = project::staged_wheels(&run.name);
    if !runner.dry_run() {
        let dir = project.root.join(&staged);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {dir}"))?;
    }
    runner.run(&docker::copy_out(&name, &format!("{WHEELS}/."), &staged))?;
    runner.unmake(&remove)?;
    Ok(staged)
}

/// Builds the image only when the engine does not have it yet.
pub fn ensure(project: &Project, runner: &Runner) -> Result<()> {
    if image_exists(runner, &project.names.dev_image)? {
        return Ok(());
    }
    build(project, runner, &Beside::default()).map(drop)
}

/// The image a run uses, with the images of the services `beside` built meanwhile where it
/// is built. With the source mounted, the image only has to match the dependencies, so one
/// whose inputs are unchanged is reused without a build.
pub fn for_run(project: &Project, runner: &Runner, source_mounted: bool, beside: &Beside) -> Result<String> {
    if source_mounted {
        return current_or_built(project, runner, state(project, runner)?, beside);
    }
    build(project, runner, beside)
}

/// The id of the dev image `state` found current, else of the one built now (see `for_run`).
pub fn current_or_built(project: &Project, runner: &Runner, state: State, beside: &Beside) -> Result<String> {
    match state {
        State::Current(id) => Ok(id),
        State::Missing | State::Stale => build(project, runner, beside),
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
    images::image_state_question(project, &project.names.dev_image)
}

/// What the answer to `state_question` says.
pub fn state_from(project: &Project, runner: &Runner, question: &Cmd, answer: Finished) -> Result<State> {
    let ca = images::host_ca()?;
    images::state_from(runner, question, answer, |os_image_id| {
        project.dev_image_inputs(os_image_id, ca.as_ref().map(|ca| ca.bytes.as_slice()))
    })
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
