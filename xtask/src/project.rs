//! Where things are: the checkout, its settings modules, and the names the project gives
//! to what it makes on the engine.

use std::io::Read;

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};
use xshell::Shell;

use crate::config::Config;
use crate::engine::docker::{CHECKOUT_LABEL, DATA_LABEL, RUN_LABEL};
use crate::fingerprint::Fingerprint;

mod inputs;
pub use inputs::{INPUTS_LABEL, MIGRATIONS_LABEL, TOOLS_LABEL};

pub const OS_IMAGE_FROM_REGISTRY: &str = "debian:bookworm-slim";
pub const BASE_DOCKERFILE: &str = "docker/base/Dockerfile";
pub const DEV_DOCKERFILE: &str = "docker/dev/Dockerfile";
/// Where builds find the host's CA bundle in the build context: each run stages its own
/// (`staged_ca`), passed to the Dockerfiles as HOST_CA.
pub const STAGED_CA_DIR: &str = "docker/base/host-ca";
/// What the Dockerfiles trust instead where the host has no CA bundle: nothing (an empty file).
const NO_HOST_CA: &str = "docker/base/host-ca/none";
/// Where a run that builds the dev image stages the requirements' wheels for it, each run
/// in a directory of its own (`staged_wheels`): a fixed depth, which `.dockerignore` lets in.
pub const STAGED_WHEELS_DIR: &str = "target/xtask/wheels";
/// Where a test run leaves its JUnit and coverage XML, relative to the root.
pub const REPORTS_DIR: &str = "target/reports";
pub const RELEASE_DOCKERFILE: &str = "docker/release/Dockerfile";
/// The acceptance tests `cargo xtask release` runs against the release image.
pub const ACCEPTANCE_DIR: &str = "acceptance";
/// Where `cargo xtask build` leaves the wheels.
pub const WHEELS_DIR: &str = "target/wheels";
/// Where a release records the id of the release image that passed its acceptance tests,
/// relative to the root: `publish` pushes that image and no other.
pub const ACCEPTED: &str = "target/xtask/release-accepted";
/// What `publish` pushed last, for `deploy`: `REFERENCE@DIGEST IMAGE_ID VERSION`.
pub const PUBLISHED: &str = "target/xtask/published";

const SETTINGS_DIR: &str = "src/todobackend/settings";

pub struct Project {
    pub root: Utf8PathBuf,
    pub config: Config,
    pub names: Names,
}

/// What the project's images, cache and runs are called on an engine, all from one prefix:
/// `todobackend`, or Cargo.toml's `[workspace.metadata.todobackend] name`, which gives a
/// checkout a set of its own (the bench's copy and the tests' copies have one). The OS image
/// is the exception: a plain Debian image, shared by every checkout whatever its name, as a
/// registry's `debian:bookworm-slim` is, so a checkout with a name of its own neither builds
/// another one nor removes it, unless Cargo.toml's `os_image` names one of its own.
pub struct Names {
    pub prefix: String,
    /// The OS image built from Debian packages where no registry answers:
    /// `todobackend-os:bookworm`, or Cargo.toml's `os_image`.
    pub os_image: String,
    /// Whether the OS image is this checkout's alone (`os_image` in Cargo.toml), so `clean`
    /// may remove it whatever the checkout's name.
    pub own_os_image: bool,
    /// Where builds keep the requirements' wheels: `todobackend-wheels`, every checkout's
    /// as the OS image is, or Cargo.toml's `wheels_volume`.
    pub wheels_volume: String,
    pub own_wheels_volume: bool,
    pub base_image: String,
    pub dev_image: String,
    /// The dev image's `tools` stage, which the requirements' wheels are made in.
    pub tools_image: String,
    /// What `cargo xtask release` builds: the application from its wheels, on the base image.
    pub release_image: String,
    /// The edge a deployment puts on each node (`publish`, `deploy`).
    pub edge_image: String,
    /// The lab's volume container, and the named volume that holds its data.
    pub cache_container: String,
    pub cache_volume: String,
}

impl Names {
    pub fn new(prefix: &str, os_image: Option<&str>, wheels_volume: Option<&str>) -> Names {
        Names {
            os_image: os_image.map_or_else(|| format!("{DEFAULT_NAME}-os:bookworm"), String::from),
            own_os_image: os_image.is_some(),
            wheels_volume: wheels_volume.map_or_else(|| format!("{DEFAULT_NAME}-wheels"), String::from),
            own_wheels_volume: wheels_volume.is_some(),
            base_image: format!("{prefix}-base"),
            dev_image: format!("{prefix}-dev"),
            tools_image: format!("{prefix}-tools"),
            release_image: format!("{prefix}-release"),
            edge_image: format!("{prefix}-edge"),
            // The lab's own name, in the project's own set.
            cache_container: if prefix == DEFAULT_NAME {
                "cache".into()
            } else {
                format!("{prefix}-cache")
            },
            cache_volume: format!("{prefix}-cache"),
            prefix: prefix.into(),
        }
    }
}

pub const DEFAULT_NAME: &str = "todobackend";

impl Project {
    /// The workspace root is the parent of the xtask package, whatever the current directory.
    /// Cargo sets CARGO_MANIFEST_DIR when it runs the xtask; the build-time value is the fallback.
    pub fn locate() -> Result<Project> {
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let root = Utf8Path::new(&manifest_dir)
            .parent()
            .context("the xtask package has no parent directory")?;
        Project::at(root)
    }

    /// Whether `root` holds a todobackend checkout.
    pub fn is_checkout(root: &Utf8Path) -> bool {
        root.join(DEV_DOCKERFILE).is_file()
    }

    pub fn at(root: &Utf8Path) -> Result<Project> {
        if !Project::is_checkout(root) {
            bail!("{root} is not a todobackend checkout: {DEV_DOCKERFILE} is missing");
        }
        let config = Config::load(&root.join("Cargo.toml"))?;
        let names = Names::new(
            config.name.as_deref().unwrap_or(DEFAULT_NAME),
            config.os_image.as_deref(),
            config.wheels_volume.as_deref(),
        );
        let project = Project {
            root: root.to_owned(),
            config,
            names,
        };
        // A misspelt table would otherwise declare services no run ever starts.
        let names = project.settings_names()?;
        if let Some(unknown) = project.config.settings.keys().find(|name| !names.contains(name)) {
            bail!(
                "Cargo.toml declares [workspace.metadata.todobackend.settings.{unknown}], but {SETTINGS_DIR}/ \
                 has no module `{unknown}`: name one of {}",
                names.join(", ")
            );
        }
        Ok(project)
    }

    /// A name for what one run makes on the engine, unique per run, as compose project
    /// names are: `<prefix>-<checkout directory>-<random>`, the directory's name lower-cased
    /// with anything but ASCII letters and digits made a dash (`Todo Backend.v2_x` gives
    /// `todo-backend-v2-x`), so any directory name makes a valid container name. Labels tell
    /// the checkout too, by its path as it is.
    pub fn run_name(&self) -> Result<RunName> {
        let dir = name_part(self.root.file_name().unwrap_or("root"));
        let name = format!("{}-{dir}-{}", self.names.prefix, random_hex(3)?);
        let labels = vec![
            (CHECKOUT_LABEL.to_string(), self.root.to_string()),
            (RUN_LABEL.to_string(), name.clone()),
        ];
        Ok(RunName { name, labels })
    }

    /// The volume in which `serve` keeps the data of `settings` (`service`'s, or the
    /// settings' own), and the labels that say whose it is. Named for the checkout by its
    /// directory and a digest of its path, so checkouts in directories of the same name never
    /// share one; not a run's, so no run's cleanup removes it (`clean` does).
    pub fn data_volume(&self, settings: &str, service: Option<&str>) -> DataVolume {
        let name = self.checkout_s(&format!("{settings}-{}", service.unwrap_or("data")));
        let labels = vec![
            (CHECKOUT_LABEL.to_string(), self.root.to_string()),
            (DATA_LABEL.to_string(), settings.to_string()),
        ];
        DataVolume { name, labels }
    }

    /// `<prefix>-<directory>-<digest of the path>-<what>`: the name of something this checkout
    /// keeps between runs, never another checkout's, whatever its directory is called.
    pub fn checkout_s(&self, what: &str) -> String {
        let dir = name_part(self.root.file_name().unwrap_or("root"));
        let mut digest = Fingerprint::new();
        digest.record(b'p', self.root.as_str().as_bytes());
        format!("{}-{dir}-{}-{what}", self.names.prefix, &digest.hex()[..8])
    }

    /// The settings modules a test run can use: the `.py` files of the settings package.
    pub fn settings_names(&self) -> Result<Vec<String>> {
        let dir = self.root.join(SETTINGS_DIR);
        let entries = dir
            .read_dir_utf8()
            .with_context(|| format!("cannot list the settings modules in {dir}"))?;
        let mut names = Vec::new();
        for entry in entries {
            let path = entry?.into_path();
            if path.extension() == Some("py") && path.file_stem() != Some("__init__") {
                names.extend(path.file_stem().map(String::from));
            }
        }
        names.sort();
        Ok(names)
    }

    pub fn check_settings(&self, name: &str) -> Result<()> {
        let names = self.settings_names()?;
        if !names.iter().any(|known| known == name) {
            bail!(
                "unknown settings `{name}`: choose one of {} (the modules in {SETTINGS_DIR}/), e.g. `--settings {}`",
                names.join(", "),
                names.first().map_or("base", String::as_str),
            );
        }
        Ok(())
    }
}

/// Where run `run` stages the host's CA bundle, relative to the root: a file of its own, which
/// the run (or its watchdog, or the recovery of a dead run) removes when it ends.
pub fn staged_ca(run: &str) -> String {
    format!("{STAGED_CA_DIR}/{run}.crt")
}

/// Where run `run` stages the requirements' wheels, relative to the root: removed with the run,
/// as its staged CA bundle is.
pub fn staged_wheels(run: &str) -> String {
    format!("{STAGED_WHEELS_DIR}/{run}")
}

/// `dir` as part of a name docker accepts for containers and networks.
fn name_part(dir: &str) -> String {
    dir.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A volume of the checkout's that keeps data between runs (`Project::data_volume`).
pub struct DataVolume {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

pub struct RunName {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl RunName {
    /// A run of the checkout `main`, as unit tests of command values name it.
    #[cfg(test)]
    pub fn example() -> RunName {
        let name = "todobackend-main-abc123";
        RunName {
            name: name.into(),
            labels: vec![("todobackend.run".into(), name.into())],
        }
    }

    /// The name of one of the run's containers.
    pub fn container(&self, role: &str) -> String {
        format!("{}-{role}", self.name)
    }
}

/// A shell whose commands run from `root` (the checkout's, or a copy's), whatever the xtask's
/// current directory: the runner makes every child with one.
pub fn shell_at(root: &Utf8Path) -> Result<Shell> {
    let sh = Shell::new().context("cannot read the current directory or the environment")?;
    sh.change_dir(root);
    Ok(sh)
}

/// `bytes` random bytes from the kernel, as hex: run names and per-run passwords.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut buf))
        .context("cannot read /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> Project {
        Project::locate().unwrap()
    }

    #[test]
    fn settings_are_the_modules_of_the_settings_package() {
        assert_eq!(checkout().settings_names().unwrap(), ["base", "release", "test"]);
    }

    #[test]
    fn an_unknown_settings_name_is_refused_with_the_valid_ones() {
        let err = checkout().check_settings("nosuch").unwrap_err().to_string();
        assert!(err.contains("unknown settings `nosuch`"), "{err}");
        assert!(err.contains("base, release, test"), "{err}");
        checkout().check_settings("test").unwrap();
    }

    #[test]
    fn run_names_tell_the_checkout_and_differ_per_run() {
        let project = checkout();
        let (a, b) = (project.run_name().unwrap(), project.run_name().unwrap());
        assert_ne!(a.name, b.name);
        let dir = name_part(project.root.file_name().unwrap());
        let random = a
            .name
            .strip_prefix(&format!("todobackend-{dir}-"))
            .unwrap_or_else(|| panic!("{}", a.name));
        assert!(
            random.len() == 6 && random.chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            a.name
        );
        assert_eq!(a.container("db"), format!("{}-db", a.name));
        assert!(
            a.labels
                .contains(&("todobackend.checkout".into(), project.root.to_string()))
        );
    }

    #[test]
    fn any_directory_name_makes_a_valid_part_of_a_run_name() {
        for (dir, part) in [
            ("todobackend", "todobackend"),
            ("todo_backend", "todo-backend"),
            ("Todo Backend.v2_x", "todo-backend-v2-x"),
            ("café", "caf-"),
        ] {
            assert_eq!(name_part(dir), part, "{dir}");
        }
    }

    #[test]
    fn the_os_image_is_shared_whatever_the_checkout_is_named() {
        for prefix in [DEFAULT_NAME, "todobackend-bench"] {
            assert_eq!(Names::new(prefix, None, None).os_image, "todobackend-os:bookworm");
        }
        let own = Names::new("todobackend-bench", Some("todobackend-bench-os:bookworm"), None);
        assert_eq!(own.os_image, "todobackend-bench-os:bookworm");
        assert!(own.own_os_image && !Names::new(DEFAULT_NAME, None, None).own_os_image);
        let names = Names::new("todobackend-bench", None, None);
        assert_eq!(
            [names.dev_image, names.cache_container],
            ["todobackend-bench-dev", "todobackend-bench-cache"]
        );
    }

    #[test]
    fn services_declared_for_settings_that_do_not_exist_are_refused() {
        let copy = Utf8PathBuf::from_path_buf(std::env::temp_dir().join(format!("xtask-tset-{}", std::process::id())))
            .unwrap();
        let _ = std::fs::remove_dir_all(&copy);
        for dir in ["docker/dev", SETTINGS_DIR] {
            std::fs::create_dir_all(copy.join(dir)).unwrap();
        }
        std::fs::write(copy.join(DEV_DOCKERFILE), "").unwrap();
        std::fs::write(copy.join(SETTINGS_DIR).join("test.py"), "").unwrap();
        let declared = "[workspace.metadata.todobackend.settings.tset]\nservices = []\n";
        std::fs::write(copy.join("Cargo.toml"), declared).unwrap();
        let err = Project::at(&copy).err().unwrap().to_string();
        std::fs::write(copy.join("Cargo.toml"), declared.replace("tset", "test")).unwrap();
        let fixed = Project::at(&copy);
        std::fs::remove_dir_all(&copy).unwrap();
        assert!(
            err.contains("settings.tset]") && err.contains("name one of test"),
            "{err}"
        );
        assert!(fixed.is_ok());
    }

    #[test]
    fn a_directory_that_is_not_a_checkout_is_refused() {
        let err = Project::at(Utf8Path::new("/")).err().unwrap().to_string();
        assert!(err.contains("not a todobackend checkout"), "{err}");
    }
}
