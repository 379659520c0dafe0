//! One module per task: each composes command values and hands them to the runner.

pub mod base_image;
pub mod bench;
pub mod build;
pub mod cache;
pub mod clean;
pub mod dev_image;
pub mod doctor;
pub mod services;
pub mod test;

use std::fs;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::cmd::Cmd;
use crate::docker;
use crate::project::Project;
use crate::runner::Runner;

fn image_exists(runner: &Runner, image: &str) -> Result<bool> {
    Ok(runner.dry_made(image) || runner.probe(&docker::image_id(image))?.is_some())
}

/// Copies `from` out of `container` to `to` (relative to the root), replacing what an earlier
/// run left there; whether `docker cp` succeeded.
fn copy_out_fresh(project: &Project, runner: &Runner, container: &str, from: &str, to: &str) -> Result<bool> {
    if !runner.dry_run() {
        let path = project.root.join(to);
        remove(&path);
        let parent = path.parent().context("a copy destination without a parent")?;
        fs::create_dir_all(parent).with_context(|| format!("cannot create {parent}"))?;
    }
    Ok(runner.status(&docker::copy_out(container, from, to))? == 0)
}

fn is_root(runner: &Runner) -> Result<bool> {
    Ok(runner.probe(&Cmd::new("id", ["-u"]))?.as_deref() == Some("0"))
}

/// A path in the checkout that a run makes and removes again, even when the run fails.
struct Temporary(Utf8PathBuf);

impl Temporary {
    /// Starts from nothing: a run killed earlier may have left the path behind.
    fn new(path: Utf8PathBuf) -> Temporary {
        remove(&path);
        Temporary(path)
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

fn remove(path: &Utf8Path) {
    let _ = fs::remove_dir_all(path).or_else(|_| fs::remove_file(path));
}
