//! The process layer under the runner's verbs: a child started from the workspace root through
//! xshell's `Shell` (its directory and environment), in a process group of the run's, with its
//! output drained on threads of its own, waited for against a deadline and a signal.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Finished, Runner};
use crate::engine::cmd::Cmd;
use crate::signals;

/// A command started and not yet waited for.
pub(super) struct Running {
    pub(super) child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    /// Set once it ended; still `None` after `wait` when its deadline passed first.
    status: Option<ExitStatus>,
}

impl Running {
    pub(super) fn finished(self) -> Finished {
        Finished {
            status: self.status,
            stdout: joined(self.stdout),
            stderr: joined(self.stderr),
        }
    }
}

impl Runner {
    /// Runs `cmd` to its end, its deadline, or (when `interruptible`) a signal to the xtask,
    /// which stops it and fails with `signals::Interrupted`.
    pub(super) fn execute(
        &self,
        cmd: &Cmd,
        capture: bool,
        deadline: Duration,
        interruptible: bool,
    ) -> Result<Finished> {
        self.execute_with(cmd, Stdio::null(), capture, deadline, interruptible, true)
    }

    /// `execute`, with `stdin` given and, unless `own_group`, the child left in the xtask's
    /// process group (the terminal's foreground one, for `interactive`).
    pub(super) fn execute_with(
        &self,
        cmd: &Cmd,
        stdin: Stdio,
        capture: bool,
        deadline: Duration,
        interruptible: bool,
        own_group: bool,
    ) -> Result<Finished> {
        let mut running = [self.spawn(cmd, stdin, capture, own_group)?];
        self.wait_all(&mut running, Instant::now(), deadline, interruptible, own_group)?;
        let [running] = running;
        Ok(running.finished())
    }

    /// `execute` of every command in `cmds` at once, each within `deadline`.
    pub(super) fn execute_all(
        &self,
        cmds: &[Cmd],
        capture: bool,
        deadline: Duration,
        interruptible: bool,
    ) -> Result<Vec<Finished>> {
        let mut running = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            match self.spawn(cmd, Stdio::null(), capture, true) {
                Ok(child) => running.push(child),
                Err(err) => {
                    running.iter_mut().for_each(|running| stop(&mut running.child));
                    return Err(err);
                }
            }
        }
        self.wait_all(&mut running, Instant::now(), deadline, interruptible, true)?;
        Ok(running.into_iter().map(Running::finished).collect())
    }

    /// Starts `cmd`, its output read on threads of their own when `capture`.
    pub(super) fn spawn(&self, cmd: &Cmd, stdin: Stdio, capture: bool, own_group: bool) -> Result<Running> {
        let mut command = if own_group {
            self.command(cmd)
        } else {
            self.plain_command(cmd)
        };
        if cmd.input.is_some() {
            command.stdin(Stdio::piped());
        } else {
            command.stdin(stdin);
        }
        // Passed on as it comes, and kept to tell whether it lost its race
        let tee = !capture && cmd.race.is_some();
        if capture {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else if tee {
            command.stderr(Stdio::piped());
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(_) if which::which(&cmd.program).is_err() => bail!(
                "`{}` was not found on PATH, and `{cmd}` needs it: install it (Debian: `apt-get install {}`), then run this again",
                cmd.program,
                package_of(&cmd.program)
            ),
            Err(err) => return Err(err).with_context(|| format!("cannot run `{cmd}`")),
        };
        if let (Some(input), Some(mut pipe)) = (cmd.input.clone(), child.stdin.take()) {
            // On a thread of its own, as the output is read: a child that never reads cannot
            // block the run; the pipe closes when it is written.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(input.as_bytes());
            });
        }
        let stdout = drain(child.stdout.take(), false);
        let stderr = drain(child.stderr.take(), tee);
        Ok(Running {
            child,
            stdout,
            stderr,
            status: None,
        })
    }

    /// Waits until every child in `running`, started at `started`, ended or its deadline passed
    /// (then it is stopped, and its status stays `None`); a signal to the xtask (when
    /// `interruptible`) stops them all and fails with `signals::Interrupted`.
    pub(super) fn wait_all(
        &self,
        running: &mut [Running],
        started: Instant,
        deadline: Duration,
        interruptible: bool,
        own_group: bool,
    ) -> Result<()> {
        loop {
            let mut left = false;
            for running in running.iter_mut().filter(|running| running.status.is_none()) {
                running.status = running.child.try_wait()?;
                left |= running.status.is_none();
            }
            if !left {
                break;
            }
            if interruptible && let Err(interrupted) = signals::check() {
                for running in running.iter_mut().filter(|running| running.status.is_none()) {
                    if own_group {
                        stop(&mut running.child);
                    } else {
                        stop_on_the_terminal(&mut running.child);
                    }
                }
                return Err(interrupted.into());
            }
            if started.elapsed() >= deadline {
                for running in running.iter_mut().filter(|running| running.status.is_none()) {
                    stop(&mut running.child);
                }
                break;
            }
            // Quick commands are noticed quickly, long ones cost little to watch.
            let nap = started.elapsed() / 32;
            std::thread::sleep(nap.clamp(Duration::from_micros(100), Duration::from_millis(4)));
        }
        // Its output went nowhere: whoever read ours is gone too.
        let sigpipe =
            |status: &Option<ExitStatus>| status.is_some_and(|status| status.signal() == Some(signals::SIGPIPE));
        if running.iter().any(|running| sigpipe(&running.status)) {
            signals::broken_pipe();
        }
        Ok(())
    }

    pub(super) fn command(&self, cmd: &Cmd) -> Command {
        let mut command = self.plain_command(cmd);
        // Out of the terminal's process group: Ctrl-C is the xtask's to handle. Into the
        // watchdog's, when there is one, so it can stop what a dead run left running.
        let group = self.session.borrow().as_ref().map_or(0, |session| session.group);
        command.process_group(i32::try_from(group).unwrap_or(0));
        command
    }

    /// `cmd` as a process in the xtask's own process group: made by the run's `Shell`, so it
    /// runs from the root with the shell's environment, and `cmd`'s own on top.
    pub(super) fn plain_command(&self, cmd: &Cmd) -> Command {
        let program = if cmd.program == "docker" {
            self.docker.as_path()
        } else {
            cmd.program.as_ref()
        };
        let env = cmd.env.iter().chain(&cmd.secrets);
        self.sh
            .cmd(program)
            .args(&cmd.args)
            .envs(env.map(|(key, value)| (key, value)))
            .into()
    }
}

/// Reads a child's output to its end on a thread of its own, so a full pipe never blocks it;
/// where `tee`, writing it to the xtask's standard error as it comes too.
fn drain(pipe: Option<impl Read + Send + 'static>, tee: bool) -> Option<JoinHandle<String>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut chunk = [0; 8192];
            loop {
                let read = match pipe.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                if tee {
                    let _ = std::io::stderr().write_all(&chunk[..read]);
                }
                bytes.extend_from_slice(&chunk[..read]);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn joined(reader: Option<JoinHandle<String>>) -> String {
    reader.and_then(|reader| reader.join().ok()).unwrap_or_default()
}

pub(super) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Stops a child that holds the terminal: SIGTERM first, so docker's client can put the
/// terminal back as it found it (out of raw mode), then SIGKILL if it has not gone in 2 s.
fn stop_on_the_terminal(child: &mut Child) {
    signals::terminate(child.id());
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(2) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(child);
}

/// The Debian package that gives `program`, for the message that says it is missing.
fn package_of(program: &str) -> &str {
    match program {
        "docker" => "docker.io",
        "df" | "id" | "sync" | "env" | "cp" => "coreutils",
        other => other,
    }
}
