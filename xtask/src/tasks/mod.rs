//! One module per task: each composes command values and hands them to the runner.

pub mod base_image;
pub mod cache;
pub mod dev_image;
pub mod test;

use anyhow::Result;

use crate::docker;
use crate::runner::Runner;

fn image_exists(runner: &Runner, image: &str) -> Result<bool> {
    Ok(runner.probe(&docker::image_id(image))?.is_some())
}

/// Builds `image` with `build` only when the engine does not have it yet.
fn build_unless_present(runner: &Runner, image: &str, build: impl FnOnce() -> Result<()>) -> Result<()> {
    if image_exists(runner, image)? { Ok(()) } else { build() }
}
