//! A run: a process the test started, in a process group of its own, its stdout and stderr read
//! line by line as they come (each line with the instant it arrived); how it ended and all it
//! printed; and what the tests read in a run's output.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::signals::{SIGKILL, signal_group};

/// How long a run may take to get its database ready, images built if need be: only a bound
/// so a broken run fails instead of hanging, never a performance goal.
pub const DATABASE_READY_WITHIN: Duration = Duration::from_secs(240);

/// How long a whole warm run of the suite may take before the test gives up on it.
pub const A_RUN_ENDS_WITHIN: Duration = Duration::from_secs(180);

/// One line a run printed, and when the test read it.
pub type Line = (Instant, String);

/// A process the test started: in a process group of its own (as a terminal's foreground job
/// is), so a signal to the group reaches what it started and nothing of the test's, and the
/// test can stop all of it if it hangs. Its stdout and stderr are read as they come, line by
/// line, so it never blocks on a full pipe and every stderr line has the instant it arrived.
pub struct Running {
    child: Child,
    stdout: Receiver<Line>,
    stderr: Receiver<Line>,
    /// stdout and stderr lines read so far.
    out: Vec<Line>,
    err: Vec<Line>,
    exited: Option<(ExitStatus, Instant)>,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts");
        let stdout = read_lines(child.stdout.take().unwrap());
        let stderr = read_lines(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            out: Vec::new(),
            err: Vec::new(),
            exited: None,
        }
    }

    /// The process id, which is also its process group's id.
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Reads stderr until a line contains `text`: that line, and when it arrived. Fails with
    /// all the run printed when it ends first or `within` passes.
    pub fn wait_for_line(&mut self, text: &str, within: Duration) -> Line {
        let deadline = Instant::now() + within;
        loop {
            self.take_stdout();
            match self.stderr.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    self.err.push(line.clone());
                    if line.1.contains(text) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let how = self.finish_now();
                    panic!(
                        "the run ended ({how}) before printing a line with {text:?}:\n{}",
                        self.printed()
                    );
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.has_exited() {
                        // Whatever it printed last may still be in the pipe.
                        self.drain_until(Instant::now() + Duration::from_secs(2));
                        if let Some(line) = self.err.iter().find(|(_, line)| line.contains(text)) {
                            return line.clone();
                        }
                        let how = self.finish_now();
                        panic!(
                            "the run ended ({how}) before printing a line with {text:?}:\n{}",
                            self.printed()
                        );
                    }
                    if Instant::now() >= deadline {
                        self.stop();
                        panic!("no line with {text:?} after {within:?}:\n{}", self.printed());
                    }
                }
            }
        }
    }

    /// Whether the process has exited (noting when, the first time it is seen).
    pub fn has_exited(&mut self) -> bool {
        if self.exited.is_none()
            && let Some(status) = self.child.try_wait().expect("the child can be waited for")
        {
            self.exited = Some((status, Instant::now()));
        }
        self.exited.is_some()
    }

    /// Waits at most `within` for the process to exit, noting when it did to within a few ms.
    /// If it does not, kills its whole process group (so nothing it started hangs on). Then
    /// reads what is left of its output, for at most a few seconds: a process it orphaned may
    /// hold the pipes open.
    pub fn finish(mut self, within: Duration) -> Finished {
        let deadline = Instant::now() + within;
        while !self.has_exited() && Instant::now() < deadline {
            self.take_available();
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed_after = (!self.has_exited()).then(|| {
            self.stop();
            within
        });
        self.drain_until(Instant::now() + Duration::from_secs(3));
        let (status, ended) = self.exited.expect("the run was waited for");
        Finished {
            status: if killed_after.is_some() { None } else { Some(status) },
            killed_after,
            ended,
            stdout: std::mem::take(&mut self.out),
            stderr: std::mem::take(&mut self.err),
        }
    }

    /// All it printed so far, stdout and stderr interleaved in the order they arrived.
    pub fn printed(&mut self) -> String {
        self.take_available();
        interleaved(&self.out, &self.err)
    }

    /// SIGKILL to its whole group, if it has not exited yet; then reaps it.
    fn stop(&mut self) {
        if !self.has_exited() {
            signal_group(self.pid(), SIGKILL);
            let status = self.child.wait().expect("the child can be waited for");
            self.exited = Some((status, Instant::now()));
        }
    }

    /// How it ended, when the caller is about to fail anyway.
    fn finish_now(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.has_exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let how = match self.exited {
            Some((status, _)) => describe(Some(status)),
            None => "still running: killed".to_string(),
        };
        self.stop();
        self.drain_until(Instant::now() + Duration::from_secs(1));
        how
    }

    fn take_stdout(&mut self) {
        while let Ok(line) = self.stdout.try_recv() {
            self.out.push(line);
        }
    }

    fn take_available(&mut self) {
        self.take_stdout();
        while let Ok(line) = self.stderr.try_recv() {
            self.err.push(line);
        }
    }

    /// Reads both streams until each is closed or `deadline` passes.
    fn drain_until(&mut self, deadline: Instant) {
        for (stream, lines) in [(&self.stdout, &mut self.out), (&self.stderr, &mut self.err)] {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match stream.recv_timeout(left) {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
        }
    }
}

impl Drop for Running {
    /// A test that fails midway must not leave the run going: its cleanup then removes what
    /// the run made, by label.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `stream` line by line on a thread of its own, each line with the instant it arrived.
fn read_lines(stream: impl Read + Send + 'static) -> Receiver<Line> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
                    if send.send((Instant::now(), line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receive
}

fn interleaved(out: &[Line], err: &[Line]) -> String {
    let mut all: Vec<&Line> = out.iter().chain(err).collect();
    all.sort_by_key(|(at, _)| *at);
    all.iter().map(|(_, line)| format!("{line}\n")).collect()
}

/// How a process ended, as a shell would say it.
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "still running at the test's deadline: killed".to_string(),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal} (a shell says {})", 128 + signal),
            (None, None) => format!("{status}"),
        },
    }
}

/// A run that has ended: how, when, and all it printed.
pub struct Finished {
    /// `None` when the test killed it at its deadline.
    pub status: Option<ExitStatus>,
    /// The deadline it was killed at, if it was.
    pub killed_after: Option<Duration>,
    /// When the test saw it exit (or killed it).
    pub ended: Instant,
    pub stdout: Vec<Line>,
    pub stderr: Vec<Line>,
}

impl Finished {
    /// Its exit code; `None` when a signal ended it or the test killed it.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|status| status.code())
    }

    pub fn how(&self) -> String {
        match self.killed_after {
            Some(after) => format!("still running {after:?} on: the test killed it"),
            None => describe(self.status),
        }
    }

    /// stdout and stderr interleaved in the order they arrived.
    pub fn output(&self) -> String {
        interleaved(&self.stdout, &self.stderr)
    }

    pub fn has_line(&self, predicate: impl Fn(&str) -> bool) -> bool {
        self.stdout.iter().chain(&self.stderr).any(|(_, line)| predicate(line))
    }
}

/// Runs `command` to its end, or kills it after `within`.
pub fn run_to_end(command: Command, within: Duration) -> Finished {
    Running::start(command).finish(within)
}

/// The run's name, from the line that starts its database: `=> Starting db (image) as <run>-db`.
pub fn run_name(output: &str) -> String {
    let line = output
        .lines()
        .find(|line| line.starts_with("=> Starting db "))
        .unwrap_or_else(|| panic!("no database started:\n{output}"));
    line.rsplit(' ').next().unwrap().trim_end_matches("-db").to_string()
}

/// The number N in Django's `Ran N tests`.
pub fn tests_ran(output: &str) -> usize {
    let line = output
        .lines()
        .find(|line| line.starts_with("Ran "))
        .unwrap_or_else(|| panic!("no `Ran N tests`:\n{output}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
