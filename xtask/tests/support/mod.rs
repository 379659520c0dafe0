//! What the tests share: the engine check, a private copy of the checkout per test (the tests
//! never run the xtask in the checkout they belong to), the built xtask run in that copy with
//! its stderr read line by line (each line with the instant it arrived), signals to a run or to
//! its process group, and what a run left on the engine. Tests run in parallel threads on one
//! engine, so a test finds a run's containers and networks only by its copy's label
//! `todobackend.checkout=<copy>` and its images and cache by its copy's names, never by
//! engine-wide state. (Each test binary compiles this module and uses part of it.)
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

/// How long a run may take to get its database ready, images built if need be: only a bound
/// so a broken run fails instead of hanging, never a performance goal.
pub const DATABASE_READY_WITHIN: Duration = Duration::from_secs(240);
/// How long a whole warm run of the suite may take before the test gives up on it.
pub const A_RUN_ENDS_WITHIN: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------
// The engine

/// Whether a Docker engine answers. Without one the tests say SKIPPED; under CI=true that is
/// a failure instead, so CI cannot go green by testing nothing.
pub fn engine_answers() -> bool {
    let up = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    here(
        up.is_ok_and(|output| output.status.success()),
        "no Docker engine answers (`dockerd &` starts one)",
    )
}

/// Whether what a test needs is `present`. When not, the test says SKIPPED with `missing`
/// (what is missing and how to get it) and goes no further; under CI=true it fails instead.
pub fn here(present: bool, missing: &str) -> bool {
    if present {
        return true;
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true: {missing}");
    eprintln!("SKIPPED: {missing}; set CI=true to make this a failure");
    false
}

/// Most tests share the engine with the others of this file; one that acts on the whole
/// project (`clean --all`) takes it alone, so it cannot pull images or the pip cache from
/// under a parallel test's run.
static ENGINE: RwLock<()> = RwLock::new(());

/// A test's turn on the engine: held for as long as the test uses it.
pub struct EngineTurn {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _alone: Option<RwLockWriteGuard<'static, ()>>,
}

/// The engine, shared with the other tests of this file; `None` (SKIPPED said) without one.
/// The first test to ask warms it up (see `warm_up`) while the others wait.
pub fn engine() -> Option<EngineTurn> {
    engine_answers().then(|| {
        warm_up();
        EngineTurn {
            _shared: Some(ENGINE.read().unwrap_or_else(|poisoned| poisoned.into_inner())),
            _alone: None,
        }
    })
}

/// The engine, with no other test of this file running meanwhile.
pub fn engine_alone() -> Option<EngineTurn> {
    engine_answers().then(|| {
        warm_up();
        EngineTurn {
            _shared: None,
            _alone: Some(ENGINE.write().unwrap_or_else(|poisoned| poisoned.into_inner())),
        }
    })
}

/// Runs the docker client; its stdout lines, or one line saying how it failed (so a failed
/// listing never reads as "nothing there").
pub fn docker_lines(args: &[&str]) -> Result<Vec<String>, String> {
    lines_of(Command::new("docker").args(args), args)
}

/// Runs the docker client for its effect; whether it succeeded.
pub fn docker_ok(args: &[&str]) -> bool {
    succeeds(Command::new("docker").args(args))
}

/// What `docker_lines` says of `command`, docker run with `args`.
fn lines_of(command: &mut Command, args: &[&str]) -> Result<Vec<String>, String> {
    let output = command.output().map_err(|err| format!("cannot run docker: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(String::from)
        .collect())
}

fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

// ---------------------------------------------------------------------------------------
// A copy of the checkout

/// The repository the tests belong to: the xtask package's parent.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// What a checkout holds for the xtask (the bench's fixture included): the xtask's own sources,
/// `target/` and `.git/` it never reads.
const CHECKOUT: &[&str] = &[
    "Cargo.toml",
    ".dockerignore",
    "docker",
    "scripts",
    "src",
    "xtask/bench",
    "acceptance",
];

/// A private copy of what a checkout holds for the xtask. The tests run the built xtask in
/// copies only, never in the checkout they belong to: its `target/wheels/`, `target/reports/`,
/// `src/`, images and pip cache are the user's.
///
/// `Checkout::copy` makes one for a real engine, under names of its own; `Checkout::files_in`
/// one that only a fake docker sees.
pub struct Checkout {
    root: PathBuf,
    /// The prefix of what the copy makes on the engine (Cargo.toml's `name`); `None` for a copy
    /// that only a fake docker sees, which keeps the project's names and touches no engine.
    prefix: Option<String>,
    /// Environment for every command run for the copy, its cleanup included.
    env: Vec<(String, String)>,
}

impl Checkout {
    /// A copy for the real engine, in `<tmp>/xtask-e2e-<name>-<pid>` (`name` may hold spaces,
    /// dots and capitals: the directory's name is the test's), with names of its own: its
    /// Cargo.toml names it `xtask-e2e-<name>-<pid>` (lower-cased, dashes for the rest), and so
    /// its dev and base images, its pip cache and its database image, so it never retags or
    /// removes the user's `todobackend-dev`, `cache` or `todobackend-db`. Only the Debian OS
    /// image is shared, as it is by every checkout. Dropping it removes its runs' containers
    /// and networks, then runs its `clean --all --images` and fails the test if anything of
    /// the copy is still on the engine after that, then removes the directory.
    pub fn copy(name: &str) -> Checkout {
        let dir = format!("xtask-e2e-{name}-{}", std::process::id());
        let prefix: String = dir
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let copy = Checkout {
            root: std::env::temp_dir().join(dir),
            prefix: Some(prefix.clone()),
            env: Vec::new(),
        };
        copy_checkout_to(&copy.root);
        copy.edit("Cargo.toml", |manifest| {
            let db = manifest.replace("image = \"todobackend-db\"", &format!("image = \"{prefix}-db\""));
            assert_ne!(db, manifest, "the manifest declares no image = \"todobackend-db\"");
            format!("{db}\n[workspace.metadata.todobackend]\nname = \"{prefix}\"\n")
        });
        copy
    }

    /// Another copy (as `copy` makes it) under the names of `other`, as two clones of the
    /// project on one machine share the images and the pip cache: each its own directory, label
    /// and runs. Dropped, each cleans up all the names share; the second finds nothing left.
    pub fn beside(other: &Checkout, name: &str) -> Checkout {
        let mut copy = Checkout::copy(name);
        let (own, shared) = (copy.prefix().to_string(), other.prefix().to_string());
        copy.edit("Cargo.toml", |manifest| manifest.replace(&own, &shared));
        copy.prefix = Some(shared);
        copy
    }

    /// A copy at `root` that only a fake docker sees: the project's own names, and dropping it
    /// removes the directory, nothing else.
    pub fn files_in(root: &Path) -> Checkout {
        copy_checkout_to(root);
        Checkout {
            root: root.to_path_buf(),
            prefix: None,
            env: Vec::new(),
        }
    }

    /// Sets `key` for every command run for the copy, its cleanup included (`DOCKER_HOST`, say).
    pub fn env(mut self, key: &str, value: &str) -> Checkout {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The prefix of the names of what the copy makes on the engine: `<prefix>-dev`,
    /// `<prefix>-cache`, `<prefix>-db`, runs `<prefix>-<directory>-<random>`.
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or("todobackend")
    }

    /// The label every container and network of this copy's runs carries.
    pub fn label(&self) -> String {
        format!("todobackend.checkout={}", self.root.display())
    }

    pub fn write(&self, relative: &str, text: &str) {
        fs::write(self.root.join(relative), text).unwrap();
    }

    /// Rewrites a file of the copy with `edit`; fails when the edit changes nothing, so a test
    /// never runs on settings it did not get.
    pub fn edit(&self, relative: &str, edit: impl FnOnce(&str) -> String) {
        let path = self.root.join(relative);
        let before = fs::read_to_string(&path).unwrap();
        let after = edit(&before);
        assert_ne!(before, after, "the edit of {relative} changed nothing");
        fs::write(path, after).unwrap();
    }

    /// `program` run from the copy's root, as the xtask of this copy sees it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(&self.root)
            .env("CARGO_MANIFEST_DIR", self.root.join("xtask"))
            .envs(self.env.iter().map(|(key, value)| (key, value)));
        command
    }

    /// The built xtask with `args`, for this copy.
    pub fn xtask(&self, args: &[&str]) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_xtask"));
        command.args(args);
        command
    }

    /// The docker client with `args`, as the copy's commands reach the engine; its stdout
    /// lines, or one line saying how it failed.
    pub fn docker_lines(&self, args: &[&str]) -> Result<Vec<String>, String> {
        lines_of(self.command("docker").args(args), args)
    }

    fn docker_ok(&self, args: &[&str]) -> bool {
        succeeds(self.command("docker").args(args))
    }

    /// Removes the containers (with their anonymous volumes) and networks labelled with the copy.
    pub fn remove_what_is_labelled(&self) {
        let label = format!("label={}", self.label());
        if let Ok(ids) = self.docker_lines(&["container", "ls", "--all", "--quiet", "--filter", &label])
            && !ids.is_empty()
        {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(ids.iter().map(String::as_str));
            self.docker_ok(&args);
        }
        if let Ok(ids) = self.docker_lines(&["network", "ls", "--quiet", "--filter", &label])
            && !ids.is_empty()
        {
            let mut args = vec!["network", "rm"];
            args.extend(ids.iter().map(String::as_str));
            self.docker_ok(&args);
        }
    }

    /// What of the copy is on the engine: its runs' containers and networks, everything named
    /// with its prefix (images, the pip cache container and volume), and the images its
    /// builds left untagged. One line each, `KIND NAME`.
    pub fn on_the_engine(&self) -> Vec<String> {
        let prefix = self.prefix();
        let label = format!("label={}", self.label());
        let named = format!("name=^{prefix}-");
        let built_here = format!("label=todobackend.built-in={}", self.root.display());
        let reference = format!("reference={prefix}-*");
        let listings: [(&str, Vec<&str>); 6] = [
            (
                "container",
                vec!["container", "ls", "--all", "--format", "{{.Names}}", "--filter", &label],
            ),
            (
                "container",
                vec!["container", "ls", "--all", "--format", "{{.Names}}", "--filter", &named],
            ),
            (
                "network",
                vec!["network", "ls", "--format", "{{.Name}}", "--filter", &label],
            ),
            (
                "volume",
                vec!["volume", "ls", "--format", "{{.Name}}", "--filter", &named],
            ),
            (
                "image",
                vec![
                    "image",
                    "ls",
                    "--format",
                    "{{.Repository}}:{{.Tag}}",
                    "--filter",
                    &reference,
                ],
            ),
            (
                "image",
                vec![
                    "image",
                    "ls",
                    "--quiet",
                    "--no-trunc",
                    "--filter",
                    "dangling=true",
                    "--filter",
                    &built_here,
                ],
            ),
        ];
        let mut found: Vec<String> = Vec::new();
        for (kind, args) in listings {
            for line in self.docker_lines(&args).unwrap_or_else(|failed| vec![failed]) {
                let line = format!("{kind} {line}");
                if !found.contains(&line) {
                    found.push(line);
                }
            }
        }
        found
    }

    /// Waits at most `within` until no run of the copy is alive: none holds the lock in its
    /// directory (a run, or its watchdog cleaning up after it, holds it to the end).
    fn wait_for_its_runs_to_end(&self, within: Duration) {
        let alive = |run: &Path| {
            let lock = run.join("lock");
            // Taken at once only when nobody holds it.
            lock.exists()
                && !Command::new("flock")
                    .args(["--nonblock", "--exclusive"])
                    .arg(&lock)
                    .arg("true")
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success())
        };
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let Ok(runs) = fs::read_dir(self.root.join("target/xtask/runs")) else {
                return;
            };
            if !runs.flatten().any(|run| alive(&run.path())) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Removes by force what `on_the_engine` lists.
    fn remove_by_force(&self, left: &[String]) {
        for line in left {
            let (kind, name) = line.split_once(' ').unwrap_or(("", line));
            let _ = match kind {
                "container" => self.docker_ok(&["rm", "--force", "--volumes", name]),
                "network" => self.docker_ok(&["network", "rm", name]),
                "volume" => self.docker_ok(&["volume", "rm", "--force", name]),
                "image" => self.docker_ok(&["rmi", "--force", name]),
                _ => false,
            };
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if self.prefix.is_some() {
            // A killed run's watchdog finishing its cleanup first (its `clean` would leave
            // alone what a run in progress built), then a run a failed test left going, then
            // the copy's own cleanup, as a user's.
            self.wait_for_its_runs_to_end(Duration::from_secs(30));
            self.remove_what_is_labelled();
            keep_the_layers_of(self);
            let clean = self.xtask(&["clean", "--all", "--images"]).output();
            let left = self.on_the_engine();
            if !left.is_empty() {
                self.remove_by_force(&left);
                if !std::thread::panicking() {
                    let said = clean.map_or_else(
                        |err| format!("cannot run it: {err}"),
                        |out| {
                            format!(
                                "{}{}",
                                String::from_utf8_lossy(&out.stdout),
                                String::from_utf8_lossy(&out.stderr)
                            )
                        },
                    );
                    let _ = fs::remove_dir_all(&self.root);
                    panic!(
                        "`cargo xtask clean --all --images` in {} left on the engine (now removed by force):\n  {}\n\
                         It printed:\n{said}",
                        self.root.display(),
                        left.join("\n  ")
                    );
                }
            }
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Copies what a checkout holds for the xtask (`CHECKOUT`) from the repository to `root`.
fn copy_checkout_to(root: &Path) {
    let _ = fs::remove_dir_all(root);
    for item in CHECKOUT {
        let to = root.join(item);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        let status = Command::new("cp")
            .arg("-R")
            .arg(repository().join(item))
            .arg(&to)
            .status()
            .unwrap();
        assert!(status.success(), "cannot copy {item} to {}", root.display());
    }
}

// ---------------------------------------------------------------------------------------
// The layers the copies share

/// Where this test process keeps the first image of each kind a copy built, under a tag of
/// its own (`xtask-e2e-layers:<pid>-dev`, `-base`, `-db`): every copy builds the same
/// Dockerfiles on the same OS image, so while one such image exists, the next copy's build is
/// the classic builder's cache hits, however many copies were dropped (and their images
/// removed) in between. The tags go when the process exits; a process killed before that has
/// its tags removed by the next one.
const LAYERS: &str = "xtask-e2e-layers";
const KINDS: [&str; 3] = ["dev", "base", "db"];

fn layers_tag(pid: u32, kind: &str) -> String {
    format!("{LAYERS}:{pid}-{kind}")
}

/// Tags each image of `copy` that this process keeps none of yet, before the copy's `clean`
/// removes its names. Only on the engine the tests' own docker commands reach: a copy whose
/// commands go elsewhere (`env` of DOCKER_HOST, DOCKER_CONTEXT or PATH) keeps nothing.
fn keep_the_layers_of(copy: &Checkout) {
    static KEPT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let elsewhere = ["DOCKER_HOST", "DOCKER_CONTEXT", "PATH"];
    if copy.env.iter().any(|(key, _)| elsewhere.contains(&key.as_str())) {
        return;
    }
    let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for kind in KINDS {
        if kept.contains(&kind) {
            continue;
        }
        let image = format!("{}-{kind}", copy.prefix());
        if copy.docker_ok(&["tag", &image, &layers_tag(std::process::id(), kind)]) {
            if kept.is_empty() {
                // SAFETY: registers a function without arguments, run once at exit.
                unsafe { atexit(remove_the_kept_layers) };
            }
            kept.push(kind);
        }
    }
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

extern "C" fn remove_the_kept_layers() {
    remove_layers_of(std::process::id());
}

fn remove_layers_of(pid: u32) {
    let tags: Vec<String> = KINDS.iter().map(|kind| layers_tag(pid, kind)).collect();
    let _ = Command::new("docker")
        .arg("rmi")
        .args(&tags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes the layers kept by test processes that are gone (killed before their exit).
fn remove_layers_of_processes_gone() {
    let Ok(tags) = docker_lines(&["image", "ls", "--format", "{{.Tag}}", LAYERS]) else {
        return;
    };
    let mut gone: Vec<u32> = tags
        .iter()
        .filter_map(|tag| tag.split_once('-')?.0.parse().ok())
        .filter(|pid: &u32| !Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    gone.dedup();
    for pid in gone {
        remove_layers_of(pid);
    }
}

/// Before the first test of this process uses the engine, one copy runs the suite with the
/// database, alone: the OS image (made from Debian packages where no registry answers), the
/// dev image and the database image are built once, not by two tests at once, and their layers
/// are kept for the copies that follow. Fails every test with the reason when that run fails.
fn warm_up() {
    static WARM: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let warm = WARM.get_or_init(|| {
        remove_layers_of_processes_gone();
        let copy = Checkout::copy("warm-up");
        let finished = run_to_end(copy.xtask(&["test", "--settings", "test"]), Duration::from_secs(900));
        if finished.code() == Some(0) {
            Ok(())
        } else {
            Err(format!(
                "the first run on the engine, `cargo xtask test --settings test` in {}, failed: {}\n{}",
                copy.root().display(),
                finished.how(),
                finished.output()
            ))
        }
    });
    if let Err(failed) = warm {
        panic!("{failed}");
    }
}

/// The containers (with their state) and networks labelled with `checkout`, one line each,
/// but for the test worker and its network, which the checkout keeps between runs on
/// purpose (`clean` removes them: `Checkout`'s drop checks it does).
pub fn left_on_engine(checkout: &Checkout) -> Vec<String> {
    // By filters alone: Docker's and Podman's `ls` formats differ on labels.
    let label = format!("label={}", checkout.label());
    let listed = |kind: &str, filters: &[&str]| {
        let format = if kind == "container" {
            "{{.Names}} ({{.Status}})"
        } else {
            "{{.Name}}"
        };
        let mut args = vec![kind, "ls", "--format", format];
        if kind == "container" {
            args.push("--all");
        }
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        checkout.docker_lines(&args).unwrap_or_else(|failed| vec![failed])
    };
    let name = |line: &str| line.split(' ').next().unwrap_or_default().to_string();
    let mut left = Vec::new();
    for kind in ["container", "network"] {
        let kept: Vec<String> = listed(kind, &[&label, "label=todobackend.worker"])
            .iter()
            .map(|line| name(line))
            .collect();
        left.extend(
            listed(kind, &[&label])
                .into_iter()
                .filter(|line| !kept.contains(&name(line)))
                .map(|line| format!("{kind} {line}")),
        );
    }
    left
}

/// The checkout's test worker and its network, where they are.
pub fn the_worker(checkout: &Checkout) -> Vec<String> {
    let label = format!("label={}", checkout.label());
    let mut kept = Vec::new();
    for kind in ["container", "network"] {
        let mut args = vec![kind, "ls", "--filter", &label, "--filter", "label=todobackend.worker"];
        if kind == "container" {
            args.push("--all");
        }
        args.extend(["--format", "{{.Names}}"]);
        if kind == "network" {
            *args.last_mut().unwrap() = "{{.Name}}";
        }
        kept.extend(checkout.docker_lines(&args).unwrap_or_else(|failed| vec![failed]));
    }
    kept
}

/// Polls every 0.5 s until the engine holds nothing labelled with `checkout`, for at most
/// `within`; what is still there then (empty: nothing was left).
pub fn wait_until_nothing_left(checkout: &Checkout, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = left_on_engine(checkout);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

// ---------------------------------------------------------------------------------------
// Signals

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `signal` to one process, as `kill -SIG pid` does.
pub fn signal_process(pid: i32, signal: i32) {
    assert!(pid > 0);
    // SAFETY: kill(2) with a positive pid touches no memory of ours.
    let sent = unsafe { kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Sends `signal` to every process of a process group, as a terminal does on Ctrl-C
/// (`kill -SIG -- -pgid`). A group whose processes have all gone is no error: a key pressed
/// again after the job ended reaches nobody.
pub fn signal_group(pgid: i32, signal: i32) {
    assert!(pgid > 1);
    // SAFETY: as above; a negative pid names the group.
    let sent = unsafe { kill(-pgid, signal) };
    let err = std::io::Error::last_os_error();
    assert!(
        sent == 0 || err.raw_os_error() == Some(3), // ESRCH: no process left in the group
        "kill(-{pgid}, {signal}) failed: {err}"
    );
}

// ---------------------------------------------------------------------------------------
// A run

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

// ---------------------------------------------------------------------------------------
// Reading a run's output

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

// ---------------------------------------------------------------------------------------
// A real terminal

/// A tmux server of the test's own, killed when dropped: a terminal a test types into and
/// reads, as a person at it would.
pub struct Tmux(String);

impl Tmux {
    /// A server named `<name>-<pid>` for a test that runs `task` on a terminal; `None` (SKIPPED
    /// said, or failing under CI=true) without tmux.
    pub fn here(name: &str, task: &str) -> Option<Tmux> {
        let tmux = Command::new("tmux").arg("-V").output();
        here(
            tmux.is_ok_and(|output| output.status.success()),
            &format!("no tmux (`apt-get install tmux`) to give `{task}` a terminal"),
        )
        .then(|| Tmux(format!("{name}-{}", std::process::id())))
    }

    /// Runs `script` in a new session `session` of its own, on a terminal of 200 by 50.
    pub fn start(&self, session: &str, script: &str) {
        let started = Command::new("tmux")
            .args([
                "-L",
                &self.0,
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(script)
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(started.success());
    }

    /// Types `keys` (tmux's names: `Enter`, `C-c`) into `session`.
    pub fn keys(&self, session: &str, keys: &[&str]) {
        let sent = Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-t", session])
            .args(keys)
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// What `session` shows, its last 200 lines of history included.
    pub fn pane(&self, session: &str) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.0, "capture-pane", "-p", "-J", "-S", "-200", "-t", session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until `session` shows a line `matches` accepts; all it shows.
    pub fn wait_for(&self, session: &str, matches: impl Fn(&str) -> bool, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let shown = self.pane(session);
            if shown.lines().any(&matches) {
                return shown;
            }
            assert!(started.elapsed() < within, "not seen within {within:?}:\n{shown}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).output();
    }
}

// ---------------------------------------------------------------------------------------
// HTTP, as a client of the served API

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.0 request to 127.0.0.1:`port`: the status, the headers and the body.
pub fn http(port: u16, method: &str, path: &str, json: Option<&str>) -> (u16, String, String) {
    try_http(port, method, path, json).unwrap_or_else(|| panic!("no HTTP answer to {method} {path} on port {port}"))
}

/// `http`, or `None` when nothing answers (while the server restarts, docker's proxy accepts
/// a connection and closes it unanswered).
pub fn try_http(port: u16, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = json.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}
