use anyhow::Result;

use super::{base_image, build_unless_present};
use crate::docker::Build;
use crate::project::{DEV_DOCKERFILE, DEV_IMAGE, Project};
use crate::runner::Runner;

/// `docker build -t todobackend-dev -f docker/dev/Dockerfile .`, the base image first if missing.
pub fn build(project: &Project, runner: &Runner) -> Result<()> {
    base_image::ensure(project, runner)?;
    runner.step(&format!("Building the development image {DEV_IMAGE}"));
    runner.run(&Build::new(DEV_IMAGE, DEV_DOCKERFILE).into())
}

pub fn ensure(project: &Project, runner: &Runner) -> Result<()> {
    build_unless_present(runner, DEV_IMAGE, || build(project, runner))
}
