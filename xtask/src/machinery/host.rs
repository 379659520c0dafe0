//! Questions about the host the xtask runs on: its terminal, its user, its disk.

use anyhow::{Context, Result};

use crate::engine::cmd::Cmd;
use crate::runner::{READ, Runner};

/// Whether a person may answer the container: stdin and stdout both terminals. Both ends:
/// with its output redirected (`manage -- dumpdata > data.json`) a terminal in the container
/// would mix stderr into the file and turn its newlines into CRLF; with stdin not a terminal
/// (CI, a pipe) nothing may wait for input.
pub fn at_a_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// What `invoking_user` asks.
pub fn user_questions() -> [Cmd; 2] {
    ["-u", "-g"].map(|which| Cmd::new("id", [which]))
}

/// The invoking user's id and group id, both asked at once.
pub fn invoking_user(runner: &Runner) -> Result<(u32, u32)> {
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
pub fn free_gib(runner: &Runner, path: &str) -> Result<Option<f64>> {
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

pub fn is_root(runner: &Runner) -> Result<bool> {
    Ok(runner.probe(&Cmd::new("id", ["-u"]))?.as_deref() == Some("0"))
}
