//! The one place that runs commands. It announces steps, echoes each command as a
//! copy-pastable line before running it, and owns the cleanup of what a run makes:
//! registered before it is made, removed when the runner goes away, whether the run passed,
//! failed, erred, panicked or was interrupted. What even that cannot remove (the xtask
//! killed outright) is left to the run's watchdog (`session`).
//!
//! Every child but `interactive`'s runs in a process group apart from the terminal's: a
//! Ctrl-C reaches the xtask alone, which stops its child and cleans up, however often it is
//! pressed. Every child has a deadline, so an engine that accepts and never answers cannot
//! hang a run.
//!
//! | verb          | echoes | output             | under --dry-run | deadline      | a signal      |
//! |---------------|--------|--------------------|-----------------|---------------|---------------|
//! | `probe`       | no     | kept, stdout back  | runs            | `READ`        | interrupts it |
//! | `read(_all)`  | no     | kept, all back     | runs            | `READ`, given | interrupts it |
//! | `status`      | yes    | streamed           | printed only    | `LONG`        | interrupts it |
//! | `run`         | yes    | streamed           | printed only    | `LONG`        | interrupts it |
//! | `background`  | yes    | streamed           | printed only    | `LONG`        | + its `stop`  |
//! | `beside`      | yes    | kept, for `finish` | printed only    | `LONG`        | stops it      |
//! | `quiet`       | yes    | kept, tail on fail | printed only    | `LONG`        | interrupts it |
//! | `make`        | yes    | streamed           | printed only    | `MAKE`        | waits for it  |
//! | `unmake`      | yes    | kept, tail on fail | printed only    | `MAKE`        | waits for it  |
//! | `interactive` | yes    | the terminal's     | printed only    | `LONG`        | see below     |
//!
//! `interactive` is for a person at a terminal (`manage -- shell`): its child inherits the
//! xtask's stdin, stdout and stderr and, alone of all children, stays in the terminal's
//! foreground process group, so it may read the terminal (a background group reading it gets
//! SIGTTIN and stops). Meanwhile the xtask ignores SIGINT: Ctrl-C is the child's (docker's
//! client puts the terminal in raw mode and hands it to the container as a byte). SIGTERM and
//! SIGHUP still stop the child (SIGTERM first, so docker's client leaves raw mode) and end the
//! run, cleanup included. Its exit code is returned. Outside the watchdog's group, it is not
//! the watchdog's to stop if the xtask dies: the client ends when its container is removed.
//!
//! `read_all` is `read` of several commands at once, each within the deadline: questions that
//! do not depend on each other (the engine check's, a warm test run's) cost one round trip,
//! and a signal stops them all. A task's first questions may go out with the engine check's
//! (`check_engine_and_ask`): the first `read`, `read_all` or `probe` of one gets its answer,
//! asked a moment before, and later ones ask again.
//!
//! `background` starts a command that works while the run goes on (the suite, which waits
//! for the services the run starts meanwhile); `wait` gives its exit code. A signal to the
//! xtask meanwhile stops it, and its `stop` runs with the cleanup, as it does for a run that
//! fails before it waits. `run` is `status` with a non-zero exit made an error. `make`
//! registers the undo of what it makes (`unmake` runs it early, once the run is done with
//! it), and is never cut short: an engine may still finish making something after its client
//! was killed, after the cleanup looked for it. A command out of time is an error that names
//! the engine, but for `read`, whose caller decides.
//!
//! A command that can lose a race with another client of the engine (`Cmd::race`: a classic
//! build whose cached image is removed under it) has its standard error passed on as it comes
//! and kept: when it says the race was lost, the command runs again, up to `Race::AGAIN` times.
//!
//! What comes from where: xshell's `Shell`, rooted at the checkout (`project::shell_at`), makes
//! every child, with its working directory and environment; `std::process::Command`, converted
//! from xshell's `Cmd`, adds what xshell lacks (a process group, stdin input, output drained as
//! it comes, a deadline, a signal that stops it: `process`). The runner adds the rest: the echo
//! with secrets masked, `--dry-run`, the undo of what a run made (`undo`), the run's directory
//! and watchdog (`session`), the engine check (`engine_check`) and the steps' summary (`steps`).

mod engine_check;
mod process;
pub mod session;
mod steps;
mod undo;

use std::cell::{OnceCell, RefCell};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use camino::Utf8PathBuf;

use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker;
use crate::engine::{Builder, Engine};
use crate::project::{Project, RunName, shell_at};
use crate::signals;
use engine_check::Checked;
pub use process::{Background, Finished, LONG, READ};
use process::{Group, MAKE, Processes, Wait, lost_its_race, succeeded};
use session::Session;
use steps::Steps;
use undo::Undo;

pub struct Runner {
    /// The workspace root: the run's files live under it.
    root: Utf8PathBuf,
    /// What runs its children, made by a shell rooted at `root`: build contexts and relative
    /// paths are right from any directory.
    processes: Processes,
    run: RunName,
    /// What answers `docker`, once `check_engine` has asked.
    engine: RefCell<Option<Engine>>,
    /// Whether Docker's client has the buildx plugin, once asked.
    has_buildx: OnceCell<bool>,
    /// The run's directory, lock and watchdog, made before the first command that changes
    /// anything.
    session: RefCell<Option<Session>>,
    /// Commands that remove what this run made, in the order it made them.
    undo: Undo,
    dry_run: bool,
    /// Whether the run gets a session; not the watchdog's own runner.
    watched: bool,
    /// Each step announced so far, and when it began: the summary's durations.
    steps: Steps,
    /// Images the run has built or pulled by now (a dry run: printed a command that would),
    /// so it does not make them twice.
    made: RefCell<Vec<String>>,
    /// Answers to the questions asked with the engine check's (`check_engine_and_ask`), each
    /// kept for the first `read`, `read_all` or `probe` of the same command.
    asked: RefCell<Vec<(Cmd, Finished)>>,
}

impl Runner {
    pub fn new(project: &Project, dry_run: bool) -> Result<Runner> {
        Runner::with_session(project, dry_run, true)
    }

    /// The runner of a task that needs an engine: the engine checked, with `ahead` asked at
    /// once (see `check_engine_and_ask`), and nothing it cannot do here.
    /// What the engine is; fails with what to do when none answers (every task needs one).
    /// Kept for the rest of the run (`engine`); see `engine_check::check`.
    pub fn check_engine(&self) -> Result<Engine> {
        self.check_engine_and_ask(&[])
    }

    /// `check_engine`, with `ahead` asked at once: the questions a task asks first, where they
    /// do not depend on what the engine is. Their answers wait for the first `read`,
    /// `read_all` or `probe` of the same command, which then asks the engine nothing.
    pub fn check_engine_and_ask(&self, ahead: &[Cmd]) -> Result<Engine> {
        let Checked { engine, ahead } = engine_check::check(&self.processes, ahead)?;
        *self.engine.borrow_mut() = Some(engine.clone());
        self.asked.borrow_mut().extend(ahead);
        Ok(engine)
    }

    /// The engine `check_engine` found.
    pub fn engine(&self) -> Result<Engine> {
        self.engine
            .borrow()
            .clone()
            .context("the engine was not checked before use")
    }

    /// Whether Docker's client has the buildx plugin (BuildKit builds from client 23 on), asked
    /// once.
    pub fn has_buildx(&self) -> Result<bool> {
        if let Some(has) = self.has_buildx.get() {
            return Ok(*has);
        }
        let has = self.probe(&docker::buildx_version())?.is_some();
        Ok(*self.has_buildx.get_or_init(|| has))
    }

    /// What `docker build` builds with.
    pub fn builder(&self) -> Result<Builder> {
        let engine = self.engine()?;
        Ok(engine.builder(engine.builds_through_buildx() && self.has_buildx()?))
    }

    /// Where the client looks for its engine (`unix://...`, `tcp://...`), as best it can tell.
    pub fn endpoint(&self) -> String {
        if let Some(engine) = self.engine.borrow().as_ref() {
            return engine.endpoint.clone();
        }
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => host,
            _ => self
                .probe(&docker::context_endpoint())
                .ok()
                .flatten()
                .map(|answer| answer.rsplit('|').next().unwrap_or_default().to_string())
                .filter(|endpoint| !endpoint.is_empty())
                .unwrap_or_else(|| "the default socket".into()),
        }
    }

    pub fn ready(project: &Project, dry_run: bool, ahead: &[Cmd]) -> Result<Runner> {
        let runner = Runner::new(project, dry_run)?;
        let engine = runner.check_engine_and_ask(ahead)?;
        if let Some(problem) = engine.cannot(|| runner.has_buildx().unwrap_or(false)).first() {
            bail!("{problem}");
        }
        Ok(runner)
    }

    /// The watchdog's runner: it makes nothing, so it needs no watchdog of its own.
    pub fn for_watchdog(project: &Project) -> Result<Runner> {
        Runner::with_session(project, false, false)
    }

    fn with_session(project: &Project, dry_run: bool, watched: bool) -> Result<Runner> {
        let docker = which::which("docker").map_err(|_| {
            anyhow!(
                "`docker` was not found on PATH: install the Docker client \
                 (Debian: `apt-get install docker.io`; elsewhere: Docker Desktop), then run this again"
            )
        })?;
        Ok(Runner {
            root: project.root.clone(),
            processes: Processes {
                sh: shell_at(&project.root)?,
                docker,
            },
            run: project.run_name()?,
            engine: RefCell::new(None),
            has_buildx: OnceCell::new(),
            session: RefCell::new(None),
            undo: Undo::default(),
            dry_run,
            watched,
            steps: Steps::default(),
            made: RefCell::new(Vec::new()),
            asked: RefCell::new(Vec::new()),
        })
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The name and labels of what this run makes on the engine.
    pub fn run_name(&self) -> &RunName {
        &self.run
    }

    /// A path of the run's own under `target/`, for files that live as long as the run;
    /// the run's watchdog removes them if the run dies.
    pub fn scratch(&self, name: &str) -> Result<Utf8PathBuf> {
        self.start_session()?;
        let session = self.session.borrow();
        let dir = &session.as_ref().context("no session in a dry run")?.dir;
        Ok(dir.join(name))
    }

    /// Whether the run has made `image` (see `made`).
    pub fn made(&self, image: &str) -> bool {
        self.made.borrow().iter().any(|made| made == image)
    }

    /// Notes that `cmd` made its image, if it makes one (see `made`).
    fn note_made(&self, cmd: &Cmd) {
        self.made
            .borrow_mut()
            .extend(docker::image_made_by(cmd).map(String::from));
    }

    /// Announces a step of a task; it lasts until the next one.
    pub fn step(&self, what: &str) {
        self.steps.begin(what);
    }

    /// Announces work that goes on beside the steps, as a step looks, and not one of them.
    pub fn meanwhile(&self, what: &str) {
        steps::announce(what);
    }

    /// Runs `cmd`; a non-zero exit is an error.
    pub fn run(&self, cmd: &Cmd) -> Result<()> {
        succeeded(cmd, self.status(cmd)?)
    }

    /// Runs `cmd`, streaming its output, and returns its exit code for the caller to judge.
    pub fn status(&self, cmd: &Cmd) -> Result<u8> {
        Ok(self
            .echoed(cmd, false, LONG, true)?
            .map_or(0, |finished| finished.code()))
    }

    /// Runs `cmd` on the xtask's terminal, in its foreground process group, with Ctrl-C left
    /// to it (see the module's table); returns its exit code.
    pub fn interactive(&self, cmd: &Cmd) -> Result<u8> {
        say!("$ {cmd}");
        if self.dry_run {
            return Ok(0);
        }
        self.start_session()?;
        let finished = {
            let _ctrl_c = signals::leave_ctrl_c_to_the_child();
            self.processes.execute(
                cmd,
                Stdio::inherit(),
                false,
                Wait {
                    deadline: LONG,
                    interruptible: true,
                },
                Group::Terminal,
            )?
        };
        signals::check()?;
        Ok(self.in_time(cmd, finished, LONG)?.code())
    }

    /// Starts `cmd`, its output streamed, and returns while it runs: `wait` for its exit code.
    /// For a command whose work goes on if only its client is stopped (`docker exec`): cut
    /// short by a signal, or left behind by a run that fails before it waits, `stop` runs with
    /// the cleanup.
    pub fn background(&self, cmd: &Cmd, stop: Cmd) -> Result<Background> {
        say!("$ {cmd}");
        if self.dry_run {
            return Ok(Background {
                child: None,
                stop: Some(stop),
            });
        }
        self.start_session()?;
        self.undo.register(stop.clone());
        let child = self.processes.spawn(cmd, Stdio::null(), false, self.group())?;
        Ok(Background {
            child: Some((cmd.clone(), child, Instant::now())),
            stop: Some(stop),
        })
    }

    /// Starts `cmd` with its output kept rather than shown, and returns while it runs: work
    /// beside other work (a build beside a build), whose output would be woven into its.
    /// `finish` for what it printed. Cut short by a signal, or left behind by a run that
    /// fails before it finishes, its client is stopped (a build stops with it).
    pub fn beside(&self, cmd: &Cmd) -> Result<Background> {
        say!("$ {cmd}");
        if self.dry_run {
            self.note_made(cmd);
            return Ok(Background {
                child: None,
                stop: None,
            });
        }
        self.start_session()?;
        let child = self.processes.spawn(cmd, Stdio::null(), true, self.group())?;
        Ok(Background {
            child: Some((cmd.clone(), child, Instant::now())),
            stop: None,
        })
    }

    /// Asks what `beside` started to end now, as on Ctrl-C: a program that reports then
    /// (wrk) still prints its report, for `finish`.
    pub fn interrupt(&self, background: &Background) {
        if let Some((_, running, _)) = &background.child {
            signals::interrupt(running.child.id());
        }
    }

    /// The exit code of what `background` started, once it ends.
    pub fn wait(&self, background: Background) -> Result<u8> {
        Ok(self.finish(background)?.map_or(0, |finished| finished.code()))
    }

    /// What `beside` (or `background`) started, once it ends: what it printed, where it was
    /// kept; `None` in a dry run.
    pub fn finish(&self, mut background: Background) -> Result<Option<Finished>> {
        let Some((cmd, child, started)) = background.child.take() else {
            return Ok(None);
        };
        let mut running = [child];
        process::wait_all(
            &mut running,
            started,
            Wait {
                deadline: LONG,
                interruptible: true,
            },
            self.group(),
        )?;
        let [running] = running;
        let finished = running.finished();
        if let (Some(_), Some(stop)) = (finished.status, &background.stop) {
            self.undo.forget(stop);
        }
        signals::check()?;
        let mut finished = self.in_time(&cmd, finished, LONG)?;
        let mut again = 0;
        while lost_its_race(&cmd, &finished, &mut again) {
            let run = self.execute(&cmd, true, LONG, true)?;
            signals::check()?;
            finished = self.in_time(&cmd, run, LONG)?;
        }
        if finished.ok() {
            self.note_made(&cmd);
        }
        Ok(Some(finished))
    }

    /// Makes something the run owns with `cmd`, and registers `undo` to remove it when the
    /// runner goes away.
    pub fn make(&self, cmd: &Cmd, undo: Cmd) -> Result<()> {
        self.undo.register(undo);
        let code = self
            .echoed(cmd, false, MAKE, false)?
            .map_or(0, |finished| finished.code());
        succeeded(cmd, code)
    }

    /// Removes now what `make` made, by its `undo`, rather than when the run ends.
    pub fn unmake(&self, undo: &Cmd) -> Result<()> {
        let finished = self.echoed(undo, true, MAKE, false)?;
        self.undo.forget(undo);
        match finished {
            Some(finished) if !finished.ok() => bail!("`{undo}` failed: {}", finished.stderr.trim()),
            _ => Ok(()),
        }
    }

    /// Leaves what is named `names` (containers, networks, services) in place when the runner
    /// goes away (`release --keep`, a migration job left to end); the rest goes as usual.
    pub fn keep(&self, names: &[String]) {
        self.undo.keep(names);
    }

    /// Runs `cmd` quietly to learn something: its stdout if it succeeded, `None` if not.
    pub fn probe(&self, cmd: &Cmd) -> Result<Option<String>> {
        let finished = self.in_time(cmd, self.read(cmd, READ)?, READ)?;
        Ok(finished.ok().then(|| finished.stdout.trim().to_string()))
    }

    /// Runs `cmd` quietly to learn something, within `deadline`: all it printed.
    pub fn read(&self, cmd: &Cmd, deadline: Duration) -> Result<Finished> {
        match self.asked_ahead(cmd) {
            Some(answer) => Ok(answer),
            None => self.execute(cmd, true, deadline, true),
        }
    }

    /// `read` of several commands at once, each within `deadline`: what each printed, in
    /// the order given. Questions that do not depend on each other cost one round trip.
    pub fn read_all(&self, cmds: &[Cmd], deadline: Duration) -> Result<Vec<Finished>> {
        let answers: Vec<Option<Finished>> = cmds.iter().map(|cmd| self.asked_ahead(cmd)).collect();
        let unanswered: Vec<Cmd> = cmds
            .iter()
            .zip(&answers)
            .filter(|(_, answer)| answer.is_none())
            .map(|(cmd, _)| cmd.clone())
            .collect();
        let mut fresh = self
            .processes
            .execute_all(
                &unanswered,
                true,
                Wait {
                    deadline,
                    interruptible: true,
                },
                self.group(),
            )?
            .into_iter();
        answers
            .into_iter()
            .map(|answer| answer.or_else(|| fresh.next()).context("an answer went missing"))
            .collect()
    }

    /// The answer to `cmd` asked with the engine check's questions, once.
    fn asked_ahead(&self, cmd: &Cmd) -> Option<Finished> {
        let mut asked = self.asked.borrow_mut();
        let at = asked.iter().position(|(question, _)| question == cmd)?;
        Some(asked.remove(at).1)
    }

    /// Runs `cmd`, echoed, with its output kept rather than shown: all it printed, or an
    /// error with the end of it.
    pub fn quiet(&self, cmd: &Cmd) -> Result<String> {
        let Some(finished) = self.echoed(cmd, true, LONG, true)? else {
            return Ok(String::new());
        };
        finished.output_of(&format!("`{cmd}`"))
    }

    /// Prints `cmd` as it will run, then runs it: `None` under --dry-run, where it does not.
    /// A run that is about to change something gets its session (directory, lock, watchdog)
    /// first.
    fn echoed(&self, cmd: &Cmd, capture: bool, deadline: Duration, interruptible: bool) -> Result<Option<Finished>> {
        say!("$ {cmd}");
        if self.dry_run {
            self.note_made(cmd);
            return Ok(None);
        }
        self.start_session()?;
        let mut again = 0;
        let finished = loop {
            let finished = self.execute(cmd, capture, deadline, interruptible)?;
            // A signal during a command that is not cut short still ends the run once it is done.
            signals::check()?;
            let finished = self.in_time(cmd, finished, deadline)?;
            if !lost_its_race(cmd, &finished, &mut again) {
                break finished;
            }
        };
        if finished.ok() {
            self.note_made(cmd);
        }
        Ok(Some(finished))
    }

    /// `finished`, or an error naming the engine when `cmd` ran out of time (for what `read`
    /// gives back, whose caller decides).
    pub fn in_time(&self, cmd: &Cmd, finished: Finished, deadline: Duration) -> Result<Finished> {
        if finished.status.is_none() {
            bail!(
                "`{cmd}` did not finish within {} s: is the engine at {} overloaded or hung?",
                deadline.as_secs(),
                self.endpoint()
            );
        }
        Ok(finished)
    }

    /// Runs `cmd` quietly or not (`capture`), stdin null, in the run's process group.
    fn execute(&self, cmd: &Cmd, capture: bool, deadline: Duration, interruptible: bool) -> Result<Finished> {
        let wait = Wait {
            deadline,
            interruptible,
        };
        self.processes.execute(cmd, Stdio::null(), capture, wait, self.group())
    }

    /// The process group of the run's children: its watchdog's once it has one.
    fn group(&self) -> Group {
        Group::Apart(self.session.borrow().as_ref().map_or(0, |session| session.group))
    }

    fn start_session(&self) -> Result<()> {
        if self.dry_run || !self.watched || self.session.borrow().is_some() {
            return Ok(());
        }
        let session = Session::start(&self.root, &self.run.name)?;
        *self.session.borrow_mut() = Some(session);
        Ok(())
    }

    /// Removes what the run made (see `Undo::remove`). True when all of it is gone.
    fn clean_up(&self) -> bool {
        if self.undo.is_empty() {
            return true;
        }
        self.step("Removing what this run made");
        self.undo.remove(&self.processes, self.group(), self.dry_run)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let all_gone = self.clean_up();
        if let Some(session) = self.session.take() {
            // Told nothing, the watchdog removes whatever the run left.
            if all_gone && !std::thread::panicking() {
                session.finish();
            }
        }
        self.steps.summary();
    }
}
