//! Where things are: the checkout, its settings modules, and the names the project gives
//! to what it makes on the engine.

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

pub const OS_IMAGE_FROM_REGISTRY: &str = "debian:bookworm-slim";
/// The OS image built from Debian packages where no registry answers.
pub const OS_IMAGE_FROM_PACKAGES: &str = "todobackend-os:bookworm";
pub const BASE_IMAGE: &str = "todobackend-base";
pub const DEV_IMAGE: &str = "todobackend-dev";
pub const BASE_DOCKERFILE: &str = "docker/base/Dockerfile";
pub const DEV_DOCKERFILE: &str = "docker/dev/Dockerfile";
/// The lab's volume container, and the named volume that holds its data.
pub const CACHE_CONTAINER: &str = "cache";
pub const CACHE_VOLUME: &str = "todobackend-cache";

const SETTINGS_DIR: &str = "src/todobackend/settings";

pub struct Project {
    pub root: Utf8PathBuf,
}

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

    pub fn at(root: &Utf8Path) -> Result<Project> {
        if !root.join(DEV_DOCKERFILE).is_file() {
            bail!("{root} is not a todobackend checkout: {DEV_DOCKERFILE} is missing");
        }
        Ok(Project { root: root.to_owned() })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> Project {
        Project::locate().unwrap()
    }

    #[test]
    fn settings_are_the_modules_of_the_settings_package() {
        assert_eq!(checkout().settings_names().unwrap(), ["base", "test"]);
    }

    #[test]
    fn an_unknown_settings_name_is_refused_with_the_valid_ones() {
        let err = checkout().check_settings("nosuch").unwrap_err().to_string();
        assert!(err.contains("unknown settings `nosuch`"), "{err}");
        assert!(err.contains("base, test"), "{err}");
        checkout().check_settings("test").unwrap();
    }

    #[test]
    fn a_directory_that_is_not_a_checkout_is_refused() {
        let err = Project::at(Utf8Path::new("/")).err().unwrap().to_string();
        assert!(err.contains("not a todobackend checkout"), "{err}");
    }
}
