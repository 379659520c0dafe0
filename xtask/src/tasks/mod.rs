//! One module per task: each composes command values and hands them to the runner.

pub mod base_image;
pub mod bench;
pub mod build;
pub mod cache;
pub mod clean;
pub mod dev_container;
pub mod dev_image;
pub mod doctor;
pub mod kept;
pub mod manage;
pub mod publish;
pub mod release;
pub mod serve;
pub mod services;
pub mod test;
pub mod worker;

use std::fs;
use std::io::ErrorKind;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::cmd::Cmd;
use crate::docker::{self, Run};
use crate::flags::Task;
use crate::project::Project;
use crate::runner::{READ, Runner};

/// Whether a person may answer the container: stdin and stdout both terminals. Both ends:
/// with its output redirected (`manage -- dumpdata > data.json`) a terminal in the container
/// would mix stderr into the file and turn its newlines into CRLF; with stdin not a terminal
/// (CI, a pipe) nothing may wait for input.
fn at_a_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Creates `container` (its removal registered) and runs it attached, returning its exit
/// code: one made with `Run::terminal` through `runner.interactive`, so a person answers it;
/// otherwise with stdin null, never waiting for input.
fn run_attached(runner: &Runner, container: Run) -> Result<u8> {
    let name = container.name.clone().expect("a container the run removes has a name");
    let terminal = container.terminal;
    runner.make(&docker::create(container), docker::remove_container(&name))?;
    if terminal {
        runner.interactive(&docker::start_interactive(&name))
    } else {
        runner.status(&docker::start_attached(&name))
    }
}

fn image_exists(runner: &Runner, image: &str) -> Result<bool> {
    Ok(image_id(runner, image)?.is_some())
}

/// The id of `image` if the engine has it; its name when only this dry run made it.
fn image_id(runner: &Runner, image: &str) -> Result<Option<String>> {
    if runner.dry_run() && runner.made(image) {
        return Ok(Some(image.to_string()));
    }
    runner.probe(&docker::image_id(image))
}

/// Copies what directory `from` holds out of `container` into a scratch directory of the
/// run's own, for `put_in_place` to move to `to`: `Ok(None)` under --dry-run (printed only),
/// `Err` naming the cause when docker could not copy it.
fn copy_out_staged(
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
fn put_in_place(project: &Project, runner: &Runner, staged: &Utf8Path, to: &str) -> Result<Result<(), String>> {
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

/// What `task` asks first, where that does not depend on what the engine is: asked with the
/// engine check's questions (`Runner::check_engine_and_ask`), it costs no round trip of its own.
pub fn asked_first(project: &Project, task: &Task) -> Vec<Cmd> {
    match task {
        Task::Test { baked: false, .. } => test::asked_first(project),
        _ => Vec::new(),
    }
}

/// What `invoking_user` asks.
fn user_questions() -> [Cmd; 2] {
    ["-u", "-g"].map(|which| Cmd::new("id", [which]))
}

/// The invoking user's id and group id, both asked at once.
fn invoking_user(runner: &Runner) -> Result<(u32, u32)> {
    let questions = user_questions();
    let answers = runner.read_all(&questions, READ)?;
    // A Ctrl-C meanwhile may have cut it short: then that is the news
    crate::signals::check()?;
    let mut ids = questions.iter().zip(answers).map(|(question, answer)| {
        answer
            .ok()
            .then(|| answer.stdout.trim().parse().ok())
            .flatten()
            .ok_or_else(|| anyhow::anyhow!("`{question}` did not give a number: who is running this?"))
    });
    let mut id = || ids.next().context("an answer went missing")?;
    Ok((id()?, id()?))
}

/// Free space in GiB on the filesystem holding `path`, from `df`.
fn free_gib(runner: &Runner, path: &str) -> Result<Option<f64>> {
    let Some(out) = runner.probe(&Cmd::new("df", ["-Pk", path]))? else {
        return Ok(None);
    };
    let available_kib = out
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|field| field.parse::<f64>().ok());
    Ok(available_kib.map(|kib| kib / (1024.0 * 1024.0)))
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
