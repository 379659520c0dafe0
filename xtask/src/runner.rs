//! The one place that runs commands: it announces steps, echoes each command as a
//! copy-pastable line before running it, streams its output and reports its exit code.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output};

use anyhow::{Context, Result, anyhow, bail};
use camino::Utf8Path;
use xshell::Shell;

use crate::cmd::Cmd;
use crate::docker;

pub struct Runner {
    /// Runs everything from the workspace root, so build contexts are right from any directory.
    sh: Shell,
    docker: PathBuf,
}

impl Runner {
    pub fn new(root: &Utf8Path) -> Result<Runner> {
        let docker = which::which("docker").map_err(|_| {
            anyhow!(
                "`docker` was not found on PATH: install the Docker client \
                 (Debian: `apt-get install docker.io`; elsewhere: Docker Desktop), then run this again"
            )
        })?;
        let sh = Shell::new()?;
        sh.change_dir(root);
        Ok(Runner { sh, docker })
    }

    /// Fails with what to do when no engine answers: every task needs one.
    pub fn check_engine(&self) -> Result<()> {
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
        Ok(())
    }

    /// Announces a step of a task.
    pub fn step(&self, what: &str) {
        eprintln!("=> {what}");
    }

    /// Runs `cmd`; a non-zero exit is an error.
    pub fn run(&self, cmd: &Cmd) -> Result<()> {
        match self.status(cmd)? {
            0 => Ok(()),
            code => bail!("`{cmd}` failed with exit code {code}"),
        }
    }

    /// Runs `cmd` and returns its exit code for the caller to judge.
    pub fn status(&self, cmd: &Cmd) -> Result<u8> {
        eprintln!("$ {cmd}");
        let status = self
            .command(cmd)
            .status()
            .with_context(|| format!("cannot run `{cmd}`"))?;
        Ok(exit_code(status))
    }

    /// Runs `cmd` quietly to learn something: its stdout if it succeeded, `None` if not.
    pub fn probe(&self, cmd: &Cmd) -> Result<Option<String>> {
        let output = self.output(cmd)?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string()))
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
        self.sh.cmd(program).args(&cmd.args).into()
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
