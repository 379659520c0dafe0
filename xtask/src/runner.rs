//! The one place that runs commands: it announces steps, echoes each command as a
//! copy-pastable line before running it, streams its output and reports its exit code.
//! It also owns the cleanup of what a run makes: registered before it is made, removed
//! when the runner goes away, whether the run passed, failed, erred or was interrupted.
//! With `dry_run` it prints the commands that change something and runs only the probes.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use camino::Utf8Path;
use xshell::Shell;

use crate::cmd::Cmd;
use crate::docker;
use crate::signals;

pub struct Runner {
    /// Runs everything from the workspace root, so build contexts are right from any directory.
    sh: Shell,
    docker: PathBuf,
    /// Commands that remove what this run made, in the order it made them.
    undo: RefCell<Vec<Cmd>>,
    dry_run: bool,
    /// Each step announced so far, and when it began: the summary's durations.
    steps: RefCell<Vec<(String, Instant)>>,
    /// Images a dry run would have made by now, so it does not "make" them twice.
    dry_made: RefCell<Vec<String>>,
}

impl Runner {
    pub fn new(root: &Utf8Path, dry_run: bool) -> Result<Runner> {
        let docker = which::which("docker").map_err(|_| {
            anyhow!(
                "`docker` was not found on PATH: install the Docker client \
                 (Debian: `apt-get install docker.io`; elsewhere: Docker Desktop), then run this again"
            )
        })?;
        let sh = Shell::new()?;
        sh.change_dir(root);
        Ok(Runner {
            sh,
            docker,
            undo: RefCell::new(Vec::new()),
            dry_run,
            steps: RefCell::new(Vec::new()),
            dry_made: RefCell::new(Vec::new()),
        })
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether a dry run has printed a command that makes `image`.
    pub fn dry_made(&self, image: &str) -> bool {
        self.dry_made.borrow().iter().any(|made| made == image)
    }

    /// The engine's version; fails with what to do when no engine answers: every task needs one.
    pub fn check_engine(&self) -> Result<String> {
        let output = self.output(&docker::server_version())?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let why = stderr
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("no answer");
            bail!(
                "the Docker engine is not answering: {why}\n\
                 Start it (`sudo systemctl start docker`, or `sudo dockerd &`), \
                 or point DOCKER_HOST at a running engine, then run this again."
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    }

    /// Announces a step of a task; it lasts until the next one.
    pub fn step(&self, what: &str) {
        eprintln!("{} {}", paint("1;36", "=>"), paint("1", what));
        self.steps.borrow_mut().push((what.to_string(), Instant::now()));
    }

    /// Each step's duration, once the run is over.
    fn summary(&self) {
        let steps = self.steps.take();
        let Some((_, first)) = steps.first() else {
            return;
        };
        let ends = steps.iter().skip(1).map(|(_, began)| *began).chain([Instant::now()]);
        let total = first.elapsed().as_secs_f64();
        eprintln!("{} {}", paint("1;36", "=>"), paint("1", &format!("Took {total:.1} s")));
        for ((what, began), end) in steps.iter().zip(ends) {
            eprintln!("   {:>6.1} s  {what}", (end - *began).as_secs_f64());
        }
    }

    /// Runs `cmd`; a non-zero exit is an error.
    pub fn run(&self, cmd: &Cmd) -> Result<()> {
        match self.status(cmd)? {
            0 => Ok(()),
            code => bail!("`{cmd}` failed with exit code {code}"),
        }
    }

    /// Runs `cmd` and returns its exit code for the caller to judge. A signal to the xtask
    /// stops it and fails with `signals::Interrupted`.
    pub fn status(&self, cmd: &Cmd) -> Result<u8> {
        eprintln!("$ {cmd}");
        if self.dry_run {
            self.dry_made
                .borrow_mut()
                .extend(docker::image_made_by(cmd).map(String::from));
            return Ok(0);
        }
        let mut child = self
            .command(cmd)
            .spawn()
            .with_context(|| format!("cannot run `{cmd}`"))?;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(exit_code(status));
            }
            if let Err(interrupted) = signals::check() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(interrupted.into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Makes something the run owns with `cmd`, and registers `undo` to remove it when the
    /// runner goes away. `cmd` is never cut short by a signal: an engine may still finish
    /// making something after its client was killed, after the cleanup looked for it.
    pub fn make(&self, cmd: &Cmd, undo: Cmd) -> Result<()> {
        self.undo.borrow_mut().push(undo);
        eprintln!("$ {cmd}");
        if self.dry_run {
            return Ok(());
        }
        let status = self
            .command(cmd)
            .status()
            .with_context(|| format!("cannot run `{cmd}`"))?;
        if !status.success() {
            bail!("`{cmd}` failed with exit code {}", exit_code(status));
        }
        Ok(signals::check()?)
    }

    /// Removes what the run made, newest first. Never interrupted: a second Ctrl-C must not
    /// leave half of it behind.
    fn clean_up(&self) {
        let undo = self.undo.take();
        if undo.is_empty() {
            return;
        }
        self.step("Removing what this run made");
        for cmd in undo.iter().rev() {
            eprintln!("$ {cmd}");
            if self.dry_run {
                continue;
            }
            match self.output(cmd) {
                Ok(output) if output.status.success() => {}
                Ok(output) => {
                    let stderr = String::from_utf8_lossy(&output.stderr);
                    // Gone already (never made, or `--rm`): nothing to do.
                    if !stderr.contains("No such") && !stderr.contains("not found") {
                        eprintln!("warning: `{cmd}` failed: {}", stderr.trim());
                    }
                }
                Err(err) => eprintln!("warning: {err:#}"),
            }
        }
    }

    /// Runs `cmd` quietly to learn something: its stdout if it succeeded, `None` if not.
    pub fn probe(&self, cmd: &Cmd) -> Result<Option<String>> {
        let output = self.output(cmd)?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
    }

    /// Runs `cmd`, echoed, with its output kept rather than shown: all it printed, or an
    /// error with the end of it.
    pub fn quiet(&self, cmd: &Cmd) -> Result<String> {
        eprintln!("$ {cmd}");
        if self.dry_run {
            return Ok(String::new());
        }
        let (ok, out) = self.output_text(cmd)?;
        if !ok {
            let lines: Vec<&str> = out.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            bail!("`{cmd}` failed:\n{tail}");
        }
        Ok(out)
    }

    /// Runs `cmd` quietly to learn something: whether it succeeded, and all it printed.
    pub fn output_text(&self, cmd: &Cmd) -> Result<(bool, String)> {
        let output = self.output(cmd)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((output.status.success(), text))
    }

    fn output(&self, cmd: &Cmd) -> Result<Output> {
        self.command(cmd)
            .output()
            .with_context(|| format!("cannot run `{cmd}`"))
    }

    fn command(&self, cmd: &Cmd) -> Command {
        let program = if cmd.program == "docker" {
            self.docker.as_path()
        } else {
            cmd.program.as_ref()
        };
        let mut command: Command = self.sh.cmd(program).args(&cmd.args).into();
        command.envs(cmd.secrets.iter().map(|(key, value)| (key, value)));
        command
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.clean_up();
        self.summary();
    }
}

/// Colour for people at a terminal, and never with NO_COLOR (https://no-color.org).
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// `text` in the SGR style `code`, where colour is wanted.
pub fn paint(code: &str, text: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A process killed by a signal exits as a shell reports it: 128 + the signal.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}
