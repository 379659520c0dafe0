//! A run's life beyond its process, so that nothing is left behind however it ends.
//!
//! Before its first change, a run makes `target/xtask/runs/<run>/` (for its scratch files)
//! holding a `lock` it keeps shared-locked while it lives, and starts a watchdog: the xtask
//! itself (`__watchdog`) in a process group of its own, reading a pipe from the run. A run
//! that ends well removes what it made, its files (the CA bundle it staged for builds, then
//! its directory), and then says `done`. When the pipe closes without `done` (SIGKILL, a
//! panic, anything), the watchdog stops the run's docker clients (they run in its group) and
//! removes the run's containers and network by label, then its files.
//! Where even the watchdog died (the host went down), the lock is free: the next `test`,
//! `doctor` or `clean` in the checkout finds the run, says so, and removes what it left.
//! Both of those are `machinery::lifecycle`'s; here is what a run keeps on disk.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use camino::{Utf8Path, Utf8PathBuf};

use crate::project::{self};

/// Where each run keeps its directory, relative to the root.
pub const RUNS_DIR: &str = "target/xtask/runs";
/// What a run that cleaned up after itself tells its watchdog.
pub const DONE: &str = "done";
/// How long a run's directory may keep its dotted name before it is taken for abandoned.
const PENDING_FOR_AT_MOST: Duration = Duration::from_secs(60);

pub struct Session {
    root: Utf8PathBuf,
    run: String,
    pub dir: Utf8PathBuf,
    /// The watchdog's process group, which the run's docker clients join.
    pub group: u32,
    _lock: File,
    watchdog: ChildStdin,
}

impl Session {
    pub fn start(root: &Utf8Path, run: &str) -> Result<Session> {
        let runs = root.join(RUNS_DIR);
        let dir = runs.join(run);
        // Made under a name recovery ignores, and renamed once locked: a run is never seen
        // without its lock held.
        let pending = runs.join(format!(".{run}"));
        fs::create_dir_all(&pending).with_context(|| format!("cannot create {pending}"))?;
        let lock = File::create(pending.join("lock")).with_context(|| format!("cannot create {pending}/lock"))?;
        lock.lock_shared()
            .with_context(|| format!("cannot lock {pending}/lock"))?;
        fs::rename(&pending, &dir).with_context(|| format!("cannot rename {pending} to {dir}"))?;

        // /proc/self/exe runs this very program even if a rebuild replaced its file meanwhile.
        let exe = match Utf8Path::new("/proc/self/exe") {
            proc if proc.exists() => proc.into(),
            _ => std::env::current_exe().context("cannot find the xtask's own executable")?,
        };
        let mut watchdog = Command::new(exe)
            .args(["__watchdog", run])
            .env("CARGO_MANIFEST_DIR", root.join("xtask"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start the run's watchdog")?;
        Ok(Session {
            root: root.to_owned(),
            run: run.to_owned(),
            dir,
            group: watchdog.id(),
            _lock: lock,
            watchdog: watchdog.stdin.take().context("the watchdog has no stdin")?,
        })
    }

    /// The run removed all it made: its files go, and the watchdog with nothing to do.
    pub fn finish(mut self) {
        remove_files(&self.root, &self.run);
        let _ = writeln!(self.watchdog, "{DONE}");
    }
}

/// The run's files: the CA bundle it staged for builds, then its directory, which recovery
/// goes by (so the bundle never outlives it).
pub fn remove_files(root: &Utf8Path, run: &str) {
    let _ = fs::remove_file(root.join(project::staged_ca(run)));
    let _ = fs::remove_dir_all(root.join(project::staged_wheels(run)));
    let _ = fs::remove_dir_all(root.join(RUNS_DIR).join(run));
    if let Ok(outside) = outside_scratch(run) {
        let _ = fs::remove_dir_all(outside);
    }
    let _ = fs::remove_dir_all(memory_scratch(run));
}

/// Where a run may keep scratch files in memory: a tmpfs on Linux.
pub const MEMORY: &str = "/dev/shm";

/// Scratch space of the run's own in memory (`MEMORY`), for work that writes and removes
/// thousands of small files (mmdebstrap's tree): removed with the run's directory.
pub fn memory_scratch(run: &str) -> Utf8PathBuf {
    Utf8Path::new(MEMORY).join(format!("{run}-scratch"))
}

/// Scratch space of the run's own outside the checkout, for tools that cannot work under a
/// path with spaces (mmdebstrap's hooks): removed with the run's directory.
pub fn outside_scratch(run: &str) -> Result<Utf8PathBuf> {
    let temp = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .map_err(|path| anyhow::anyhow!("the temporary directory {} is not UTF-8", path.display()))?;
    let dir = temp.join(format!("{run}-scratch"));
    if dir.as_str().contains(char::is_whitespace) {
        anyhow::bail!("neither the checkout nor the temporary directory {temp} is free of spaces: set TMPDIR");
    }
    Ok(dir)
}

/// The runs of the checkout whose lock is held: alive, or being cleaned up by their watchdog.
pub fn live_runs(root: &Utf8Path) -> Vec<String> {
    run_dirs(root).into_iter().filter(|run| is_alive(root, run)).collect()
}

/// Whether someone holds run `run`'s lock.
pub fn is_alive(root: &Utf8Path, run: &str) -> bool {
    let lock = File::open(root.join(RUNS_DIR).join(run).join("lock"));
    lock.is_ok_and(|lock| lock.try_lock().is_err())
}

/// The runs with a directory in `target/xtask/runs/`, alive or not. The directory of a run
/// that died while making it (still under its dotted name a minute on: a live run renames it
/// within milliseconds) goes.
pub fn run_dirs(root: &Utf8Path) -> Vec<String> {
    let Ok(entries) = root.join(RUNS_DIR).read_dir_utf8() else {
        return Vec::new();
    };
    let (pending, mut runs): (Vec<String>, Vec<String>) = entries
        .flatten()
        .map(|entry| entry.file_name().to_string())
        .partition(|name| name.starts_with('.'));
    for name in pending {
        let dir = root.join(RUNS_DIR).join(name);
        let age = fs::metadata(&dir)
            .and_then(|meta| meta.modified())
            .map(|made| made.elapsed());
        if age.is_ok_and(|age| age.unwrap_or_default() > PENDING_FOR_AT_MOST) {
            let _ = fs::remove_dir_all(dir);
        }
    }
    runs.sort();
    runs
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_run_is_alive_while_its_lock_is_held_and_one_half_made_long_ago_goes() {
        let root = Utf8PathBuf::from_path_buf(std::env::temp_dir().join(format!("xtask-runs-{}", std::process::id())))
            .unwrap();
        let runs = root.join(RUNS_DIR);
        for run in ["alive", "dead", ".half-made", ".being-made"] {
            fs::create_dir_all(runs.join(run)).unwrap();
            File::create(runs.join(run).join("lock")).unwrap();
        }
        let long_ago = std::time::SystemTime::now() - PENDING_FOR_AT_MOST * 2;
        File::open(runs.join(".half-made"))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let held = File::open(runs.join("alive/lock")).unwrap();
        held.lock_shared().unwrap();

        let live = live_runs(&root);
        let half_made_gone = !runs.join(".half-made").exists();
        let being_made_kept = runs.join(".being-made").exists();
        drop(held);
        // A process another test is spawning shares the lock's open file until its exec
        // closes it: give such a fork a moment.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut after = live_runs(&root);
        while !after.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            after = live_runs(&root);
        }
        fs::remove_dir_all(&root).unwrap();

        assert_eq!(live, ["alive"]);
        assert!(half_made_gone && being_made_kept);
        assert!(after.is_empty(), "{after:?}");
    }
}
