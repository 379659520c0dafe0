//! The fingerprints of what the project's images are made of, from the checkout's files:
//! the dev image and its `tools` stage (reused while theirs hold), and the release's
//! migrations (`deploy` runs none while theirs hold).

use anyhow::{Context, Result};
use camino::Utf8PathBuf;

use super::{NO_HOST_CA, Project, SETTINGS_DIR};
use crate::fingerprint::Fingerprint;

/// What in the checkout the dev image is made of besides the application's code. While none
/// of it changes, nor the OS image, nor the host's CA bundle (`dev_image_inputs`), a run that
/// mounts `src/` reuses the image as it is.
const DEV_IMAGE_INPUTS: &[&str] = &[
    ".dockerignore",
    NO_HOST_CA,
    "docker/dev",
    "scripts",
    "src/requirements.txt",
    "src/requirements_test.txt",
];
/// What the dev image's `tools` stage is made of: its inputs but the requirements.
const TOOLS_INPUTS: &[&str] = &[".dockerignore", NO_HOST_CA, "docker/dev", "scripts"];
/// What the database's schema follows besides the `migrations` directories under `src/`:
/// the pinned dependencies (Django's own apps have migrations) and the settings (their
/// INSTALLED_APPS). A change of code alone leaves the fingerprint as it was.
const MIGRATIONS_INPUTS: &[&str] = &["src/requirements.txt", SETTINGS_DIR];
/// The release image's label that records `migrations_inputs` at build time: `deploy` runs
/// no migration job for an image whose migrations are the running version's.
pub const MIGRATIONS_LABEL: &str = "todobackend.migrations";
/// The image label that records `dev_image_inputs` at build time.
pub const INPUTS_LABEL: &str = "todobackend.inputs";
/// The dev image's label that records `tools_inputs` and the id of the `tools` stage it was
/// built on: `INPUTS:ID`.
pub const TOOLS_LABEL: &str = "todobackend.tools";

impl Project {
    /// The fingerprint of what the dev image is made of: `DEV_IMAGE_INPUTS` (their paths and
    /// contents), the id of the OS image it is built on, and the host's CA bundle it trusts
    /// (`None`: there is none).
    pub fn dev_image_inputs(&self, os_image_id: &str, host_ca: Option<&[u8]>) -> Result<String> {
        self.image_inputs(DEV_IMAGE_INPUTS, os_image_id, host_ca)
    }

    /// The fingerprint of what the dev image's `tools` stage is made of, as `dev_image_inputs`.
    pub fn tools_inputs(&self, os_image_id: &str, host_ca: Option<&[u8]>) -> Result<String> {
        self.image_inputs(TOOLS_INPUTS, os_image_id, host_ca)
    }

    /// The fingerprint of what the database's schema follows: every `migrations` directory
    /// under `src/` and `MIGRATIONS_INPUTS`.
    pub fn migrations_inputs(&self) -> Result<String> {
        let mut inputs: Vec<String> = MIGRATIONS_INPUTS.iter().map(|path| path.to_string()).collect();
        let mut pending = vec![self.root.join("src")];
        while let Some(dir) = pending.pop() {
            for entry in dir.read_dir_utf8().with_context(|| format!("cannot list {dir}"))? {
                let path = entry?.into_path();
                if path.is_dir() && path.file_name() == Some("migrations") {
                    inputs.push(path.strip_prefix(&self.root).unwrap_or(&path).to_string());
                } else if path.is_dir() {
                    pending.push(path);
                }
            }
        }
        inputs.sort();
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.image_inputs(&inputs, "", None)
    }

    /// The fingerprint of an image made of `inputs` (files and directories of the checkout:
    /// their paths and contents), on the OS image `os_image_id`, trusting `host_ca`. See
    /// `fingerprint` for the algorithm and the framing.
    pub fn image_inputs(&self, inputs: &[&str], os_image_id: &str, host_ca: Option<&[u8]>) -> Result<String> {
        let mut fingerprint = Fingerprint::new();
        let mut pending: Vec<Utf8PathBuf> = inputs.iter().map(|path| self.root.join(path)).collect();
        while let Some(path) = pending.pop() {
            let relative = path.strip_prefix(&self.root).unwrap_or(&path).as_str().as_bytes();
            if path.is_dir() {
                fingerprint.record(b'd', relative);
                let mut entries = path
                    .read_dir_utf8()
                    .with_context(|| format!("cannot list {path}"))?
                    .map(|entry| Ok(entry?.into_path()))
                    .collect::<Result<Vec<_>>>()?;
                entries.sort();
                pending.extend(entries.into_iter().rev());
            } else if path.exists() {
                let contents = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
                fingerprint.record(b'f', relative);
                fingerprint.record(b'c', &contents);
            } else {
                fingerprint.record(b'-', relative);
            }
        }
        fingerprint.record(b'o', os_image_id.as_bytes());
        match host_ca {
            Some(bundle) => fingerprint.record(b'a', bundle),
            None => fingerprint.record(b'n', b""),
        }
        Ok(fingerprint.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{shell_at, staged_ca};

    fn checkout() -> Project {
        Project::locate().unwrap()
    }

    /// A copy of the checkout's files the dev image depends on, and its code.
    fn copy_of_checkout(name: &str) -> Utf8PathBuf {
        let copy = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let copy = Utf8PathBuf::from_path_buf(copy).unwrap();
        let _ = std::fs::remove_dir_all(&copy);
        std::fs::create_dir_all(&copy).unwrap();
        let sh = shell_at(&checkout().root).unwrap();
        for item in ["Cargo.toml", ".dockerignore", "docker", "scripts", "src"] {
            xshell::cmd!(sh, "cp -R {item} {copy}").quiet().run().unwrap();
        }
        copy
    }

    const OS: &str = "sha256:0123";
    const CA: Option<&[u8]> = Some(b"-----BEGIN CERTIFICATE-----\n");

    #[test]
    fn the_dev_image_inputs_change_with_the_requirements_but_not_with_the_code() {
        let copy = copy_of_checkout("inputs");
        let project = Project::at(&copy).unwrap();
        let before = project.dev_image_inputs(OS, CA).unwrap();
        std::fs::write(copy.join("src/todo/views.py"), "# edited\n").unwrap();
        let after_code = project.dev_image_inputs(OS, CA).unwrap();
        // A staged bundle (another run's) is not an input: the bundle's content is.
        std::fs::write(copy.join(staged_ca("todobackend-other-123456")), "staged\n").unwrap();
        let after_staging = project.dev_image_inputs(OS, CA).unwrap();
        std::fs::write(copy.join("src/requirements.txt"), "Django==5.2.19\n").unwrap();
        let after_requirements = project.dev_image_inputs(OS, CA).unwrap();
        std::fs::remove_dir_all(&copy).unwrap();
        assert_eq!(after_code, before);
        assert_eq!(after_staging, before);
        assert_ne!(after_requirements, before);
    }

    #[test]
    fn the_dev_image_inputs_change_with_the_os_image_and_the_ca_bundle() {
        let project = checkout();
        let inputs = |os: &str, ca: Option<&[u8]>| project.dev_image_inputs(os, ca).unwrap();
        let before = inputs(OS, CA);
        assert_eq!(inputs(OS, CA), before, "the same inputs, another fingerprint");
        assert_ne!(inputs("sha256:4567", CA), before, "a new OS image");
        assert_ne!(
            inputs(OS, Some(b"-----BEGIN CERTIFICATE-----\n\n")),
            before,
            "a bundle with a newline more"
        );
        assert_ne!(inputs(OS, None), before, "no bundle");
        assert_ne!(inputs(OS, Some(b"")), inputs(OS, None), "an empty bundle and none");
        assert_eq!(before.len(), 16, "{before}");
    }

    #[test]
    fn the_migrations_fingerprint_follows_any_app_s_migrations_the_requirements_and_the_settings_not_the_code() {
        let copy = copy_of_checkout("migrations");
        let project = Project::at(&copy).unwrap();
        let fingerprint = || project.migrations_inputs().unwrap();
        let before = fingerprint();
        std::fs::write(copy.join("src/todo/views.py"), "# edited\n").unwrap();
        let after_code = fingerprint();
        let mut changes = Vec::new();
        for (path, what) in [
            ("src/todo/migrations/0002_more.py", "a migration more"),
            ("src/other/migrations/0001_initial.py", "another app's migration"),
            ("src/requirements.txt", "a dependency"),
            ("src/todobackend/settings/base.py", "the settings"),
        ] {
            std::fs::create_dir_all(copy.join(path).parent().unwrap()).unwrap();
            std::fs::write(copy.join(path), "# changed\n").unwrap();
            changes.push((fingerprint(), what));
        }
        std::fs::remove_dir_all(&copy).unwrap();
        assert_eq!(after_code, before, "the code alone changed");
        let mut last = before;
        for (after, what) in changes {
            assert_ne!(after, last, "{what}");
            last = after;
        }
    }

    #[test]
    fn a_script_and_a_directory_of_the_same_name_differ() {
        let copy = copy_of_checkout("framing");
        let project = Project::at(&copy).unwrap();
        std::fs::create_dir(copy.join("scripts/extra")).unwrap();
        let as_directory = project.dev_image_inputs(OS, CA).unwrap();
        std::fs::remove_dir(copy.join("scripts/extra")).unwrap();
        std::fs::write(copy.join("scripts/extra"), "").unwrap();
        let as_file = project.dev_image_inputs(OS, CA).unwrap();
        std::fs::remove_dir_all(&copy).unwrap();
        assert_ne!(as_directory, as_file);
    }
}
