//! The process layer under the runner's verbs, which knows nothing of runs: a child made by
//! xshell's `Shell` rooted at the workspace root (its directory and environment, `cmd!`'s
//! quoting), converted to `std::process::Command` for what xshell lacks: a process group,
//! stdin input, stdout and stderr drained on threads of their own (one passed on as it comes
//! where it must be read too), a deadline and a signal to the xtask that stop it.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xshell::Shell;

use crate::console::say;
use crate::engine::cmd::{Cmd, Race};
use crate::signals;

/// A command that only reads the engine's state.
pub const READ: Duration = Duration::from_secs(30);
/// The first question to the engine: an engine that does not answer it is reported.
pub const ENGINE_ANSWER: Duration = Duration::from_secs(6);
/// Making a container or a network.
pub const MAKE: Duration = Duration::from_secs(120);
/// Builds, the test suite, mmdebstrap: long, but not for ever.
pub const LONG: Duration = Duration::from_secs(3 * 3600);

/// What runs children: the shell they are made by, and the docker client found on PATH.
pub struct Processes {
    pub sh: Shell,
    pub docker: PathBuf,
}

/// The process group a child runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Apart from the terminal's, so Ctrl-C reaches the xtask alone: this group (the run's
    /// watchdog's), or one of the child's own (0).
    Apart(u32),
    /// The xtask's, the terminal's foreground group: the child may read the terminal.
    Terminal,
}

/// How long a child may take, and whether a signal to the xtask stops it.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub deadline: Duration,
    pub interruptible: bool,
}

/// What a finished command printed; `status` is `None` when its deadline passed first.
pub struct Finished {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|status| status.success())
    }

    /// All it printed, if it succeeded; else an error saying `what` failed, with the end of it.
    pub fn output_of(&self, what: &str) -> Result<String> {
        let out = format!("{}{}", self.stdout, self.stderr);
        if !self.ok() {
            let lines: Vec<&str> = out.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            bail!("{what} failed:\n{tail}");
        }
        Ok(out)
    }

    /// The exit code, as a shell reports it: 128 + the signal for a process killed by one.
    pub fn code(&self) -> u8 {
        match self.status.map(|status| (status.code(), status.signal())) {
            Some((Some(code), _)) => u8::try_from(code).unwrap_or(1),
            Some((None, Some(signal))) => u8::try_from(128 + signal).unwrap_or(1),
            _ => 1,
        }
    }
}

/// A command started and not yet waited for.
pub struct Running {
    pub child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    /// Set once it ended; still `None` after `wait` when its deadline passed first.
    status: Option<ExitStatus>,
}

impl Running {
    pub fn finished(self) -> Finished {
        Finished {
            status: self.status,
            stdout: joined(self.stdout),
            stderr: joined(self.stderr),
        }
    }
}

impl Processes {
    /// Runs `cmd` to its end, its deadline, or (when `interruptible`) a signal to the xtask,
    /// which stops it and fails with `signals::Interrupted`; its stdin `stdin` unless it has input.
    pub fn execute(&self, cmd: &Cmd, stdin: Stdio, capture: bool, wait: Wait, group: Group) -> Result<Finished> {
        let mut running = [self.spawn(cmd, stdin, capture, group)?];
        wait_all(&mut running, Instant::now(), wait, group)?;
        let [running] = running;
        Ok(running.finished())
    }

    /// `execute` of every command in `cmds` at once, each within `deadline`.
    pub fn execute_all(&self, cmds: &[Cmd], capture: bool, wait: Wait, group: Group) -> Result<Vec<Finished>> {
        let mut running = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            match self.spawn(cmd, Stdio::null(), capture, group) {
                Ok(child) => running.push(child),
                Err(err) => {
                    running.iter_mut().for_each(|running| stop(&mut running.child));
                    return Err(err);
                }
            }
        }
        wait_all(&mut running, Instant::now(), wait, group)?;
        Ok(running.into_iter().map(Running::finished).collect())
    }

    /// Starts `cmd`, its output read on threads of their own when `capture`.
    pub fn spawn(&self, cmd: &Cmd, stdin: Stdio, capture: bool, group: Group) -> Result<Running> {
        let mut command = self.command(cmd, group);
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

    /// `cmd` as a process made by the run's `Shell` (so run from the root, with the shell's
    /// environment and `cmd`'s own on top), in `group`.
    fn command(&self, cmd: &Cmd, group: Group) -> Command {
        let program = if cmd.program == "docker" {
            self.docker.as_path()
        } else {
            cmd.program.as_ref()
        };
        let env = cmd.env.iter().chain(&cmd.secrets);
        let mut command: Command = self
            .sh
            .cmd(program)
            .args(&cmd.args)
            .envs(env.map(|(key, value)| (key, value)))
            .into();
        if let Group::Apart(group) = group {
            // Out of the terminal's process group: Ctrl-C is the xtask's to handle. Into the
            // watchdog's, when there is one, so it can stop what a dead run left running.
            command.process_group(i32::try_from(group).unwrap_or(0));
        }
        command
    }
}

/// Waits until every child in `running`, started at `started`, ended or its deadline passed
/// (then it is stopped, and its status stays `None`); a signal to the xtask (when
/// `interruptible`) stops them all and fails with `signals::Interrupted`.
pub fn wait_all(
    running: &mut [Running],
    started: Instant,
    Wait {
        deadline,
        interruptible,
    }: Wait,
    group: Group,
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
                if group != Group::Terminal {
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
    let sigpipe = |status: &Option<ExitStatus>| status.is_some_and(|status| status.signal() == Some(signals::SIGPIPE));
    if running.iter().any(|running| sigpipe(&running.status)) {
        signals::broken_pipe();
    }
    Ok(())
}

/// What `Runner::background` started: `Runner::wait` for it. Dropped unwaited (the run failed
/// meanwhile), its client is stopped; the cleanup runs its `stop`.
pub struct Background {
    pub child: Option<(Cmd, Running, Instant)>,
    pub stop: Option<Cmd>,
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some((_, running, _)) = &mut self.child {
            stop(&mut running.child);
        }
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

pub fn stop(child: &mut Child) {
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

/// Whether `finished` says `cmd` lost its race (`Cmd::race`) and is to run again, `again`
/// counting the runs after the first; says so, then.
pub fn lost_its_race(cmd: &Cmd, finished: &Finished, again: &mut u32) -> bool {
    let Some(race) = cmd.race else {
        return false;
    };
    if finished.ok() || *again >= Race::AGAIN || !race.lost(&finished.stderr) {
        return false;
    }
    *again += 1;
    say!("   {}: running it again", race.why);
    true
}

/// A non-zero exit code as an error.
pub fn succeeded(cmd: &Cmd, code: u8) -> Result<()> {
    match code {
        0 => Ok(()),
        code => bail!("`{cmd}` failed with exit code {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_missing_from_path_is_named_with_the_package_that_gives_it() {
        let processes = Processes {
            sh: Shell::new().unwrap(),
            docker: "docker".into(),
        };
        let cmd = Cmd::new("todobackend-no-such-program", ["--version"]);
        let err = processes
            .spawn(&cmd, Stdio::null(), true, Group::Apart(0))
            .err()
            .expect("a program that is nowhere does not start");
        assert_eq!(
            err.to_string(),
            "`todobackend-no-such-program` was not found on PATH, and `todobackend-no-such-program --version` \
             needs it: install it (Debian: `apt-get install todobackend-no-such-program`), then run this again"
        );
        assert_eq!(package_of("docker"), "docker.io");
    }
}
