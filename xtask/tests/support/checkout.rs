//! Copies of the checkout: the tests run the built xtask in copies only, never in the checkout
//! they belong to. A copy for the real engine has names of its own, and its drop fails the test
//! when the copy's own `clean --all --images` leaves anything of it there; a copy that only a
//! fake docker sees keeps the project's names.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::engine::{lines_of, succeeds};
use super::layers::keep_the_layers_of;

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
    pub(super) env: Vec<(String, String)>,
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

    pub(super) fn docker_ok(&self, args: &[&str]) -> bool {
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
