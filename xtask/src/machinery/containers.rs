//! Small steps several tasks take with containers and images: run one attached, ask for an
//! image, copy a directory out of a container into the checkout whole.

use std::fs;
use std::io::ErrorKind;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::engine::docker::{self, Run};
use crate::project::Project;
use crate::runner::Runner;

/// Creates `container` (its removal registered) and runs it attached, returning its exit
/// code: one made with `Run::terminal` through `runner.interactive`, so a person answers it;
/// otherwise with stdin null, never waiting for input.
pub fn run_attached(runner: &Runner, container: Run) -> Result<u8> {
    let name = container.name.clone().expect("a container the run removes has a name");
    let terminal = container.terminal;
    runner.make(&docker::create(container), docker::remove_container(&name))?;
    if terminal {
        runner.interactive(&docker::start_interactive(&name))
    } else {
        runner.status(&docker::start_attached(&name))
    }
}

pub fn image_exists(runner: &Runner, image: &str) -> Result<bool> {
    Ok(image_id(runner, image)?.is_some())
}

/// The id of `image` if the engine has it; its name when only this dry run made it.
pub fn image_id(runner: &Runner, image: &str) -> Result<Option<String>> {
    if runner.dry_run() && runner.made(image) {
        return Ok(Some(image.to_string()));
    }
    runner.probe(&docker::image_id(image))
}

/// Copies what directory `from` holds out of `container` into a scratch directory of the
/// run's own, for `put_in_place` to move to `to`: `Ok(None)` under --dry-run (printed only),
/// `Err` naming the cause when docker could not copy it.
pub fn copy_out_staged(
    runner: &Runner,
    container: &str,
    from: &str,
    to: &str,
) -> Result<Result<Option<Utf8PathBuf>, String>> {
    if runner.dry_run() {
        runner.status(&docker::copy_out(container, from, to))?;
        return Ok(Ok(None));
    }
    let staged = runner.scratch(to.rsplit('/').next().unwrap_or(to))?;
    fs::create_dir_all(&staged).with_context(|| format!("cannot create {staged}"))?;
    // `DIR/.` into an existing directory: the same on every engine, volumes included.
    if runner.status(&docker::copy_out(container, &format!("{from}/."), staged.as_str()))? != 0 {
        return Ok(Err(format!(
            "cannot copy {from} out of the container {container}: see docker's message above"
        )));
    }
    Ok(Ok(Some(staged)))
}

/// Puts the directory `staged` in place of `to` (relative to the root) whole, by renames:
/// concurrent runs each leave a complete set, never a mix. `Err` names the host's problem.
pub fn put_in_place(project: &Project, runner: &Runner, staged: &Utf8Path, to: &str) -> Result<Result<(), String>> {
    let dest = project.root.join(to);
    if let Some(parent) = dest.parent()
        && let Err(err) = fs::create_dir_all(parent)
    {
        return Ok(Err(format!("cannot create {parent}: {err}")));
    }
    for attempt in 0..5 {
        let replaced = runner.scratch(&format!("replaced-{attempt}"))?;
        match fs::rename(&dest, &replaced) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => return Ok(Err(format!("cannot replace {dest}: {err}"))),
        }
        match fs::rename(staged, &dest) {
            Ok(()) => return Ok(Ok(())),
            // Another run put its own there in between: replace that one.
            Err(err) if matches!(err.kind(), ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists) => {}
            Err(err) => return Ok(Err(format!("cannot move the new files to {dest}: {err}"))),
        }
    }
    Ok(Err(format!(
        "cannot put the new files in {dest}: other runs keep replacing it"
    )))
}

/// A path in the checkout that a run makes and removes again, even when the run fails.
pub struct Temporary(pub Utf8PathBuf);

impl Temporary {
    /// Starts from nothing: a run killed earlier may have left the path behind.
    pub fn new(path: Utf8PathBuf) -> Temporary {
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
