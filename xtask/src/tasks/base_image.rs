//! The base image, and the Debian image under every project image: pulled where a registry
//! answers, built from Debian packages where none does. The same command works in both places.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result, bail};
use camino::Utf8PathBuf;

use super::{image_id, is_root};
use crate::cmd::Cmd;
use crate::console::say;
use crate::docker::{self, BUILT_IN_LABEL, Build};
use crate::project::{self, BASE_DOCKERFILE, INPUTS_LABEL, OS_IMAGE_FROM_REGISTRY, Project};
use crate::runner::{Finished, READ, Runner};
use crate::session;

/// Files laid over the debootstrapped tree.
const OS_OVERLAY: &str = "docker/os/rootfs";

pub fn build(project: &Project, runner: &Runner) -> Result<()> {
    let os = os_image(project, runner)?;
    let build = Build::new(&project.names.base_image, BASE_DOCKERFILE);
    build_on_os(project, runner, "the base image", build, &os, host_ca()?.as_ref())
}

/// The image a build starts FROM: its name, and its id (its name when the engine cannot tell,
/// as in a dry run).
pub struct OsImage {
    pub name: String,
    pub id: String,
}

/// The host's CA bundle, read once: what a build stages is what the dev image's fingerprint
/// covers.
/// An image the project builds, against what a build would make now.
pub enum State {
    Missing,
    /// Built from other inputs: another OS image, CA bundle, Dockerfile, script or requirement.
    Stale,
    /// Its id.
    Current(String),
}

/// Whether `image` is current, in one docker call: its fingerprint label (`INPUTS_LABEL`),
/// against `inputs` of the id of the OS image a build would use now (`os_image`'s first
/// choice that the engine has).
pub(super) fn image_state(
    project: &Project,
    runner: &Runner,
    image: &str,
    inputs: impl FnOnce(&str) -> Result<String>,
) -> Result<State> {
    let question = image_state_question(project, image);
    let answer = runner.read(&question, READ)?;
    state_from(runner, &question, answer, inputs)
}

/// What `image_state` asks the engine, for a caller that asks other things at once.
pub(super) fn image_state_question(project: &Project, image: &str) -> Cmd {
    docker::image_labels(&[image, OS_IMAGE_FROM_REGISTRY, &project.names.os_image], INPUTS_LABEL)
}

/// What the answer to `image_state_question` says.
pub(super) fn state_from(
    runner: &Runner,
    question: &Cmd,
    answer: Finished,
    inputs: impl FnOnce(&str) -> Result<String>,
) -> Result<State> {
    // It fails when any of them is missing (one OS image always is), and prints the others.
    let inspected = runner.in_time(question, answer, READ)?;
    // One line per image the engine has, in the order asked: `image`'s (first, if there) is
    // the one with a fingerprint; an OS image has none (docker prints `<no value>`).
    let mut lines = inspected
        .stdout
        .lines()
        .filter_map(|line| line.split_once(' '))
        .peekable();
    let Some((id, label)) = lines.next_if(|(_, label)| !label.is_empty() && *label != "<no value>") else {
        return Ok(State::Missing);
    };
    let Some((os_image_id, _)) = lines.next() else {
        // A build makes the OS image first.
        return Ok(State::Stale);
    };
    Ok(if label == inputs(os_image_id)? {
        State::Current(id.to_string())
    } else {
        State::Stale
    })
}

pub struct HostCa {
    pub path: Utf8PathBuf,
    pub bytes: Vec<u8>,
}

/// Builds `build` as the OS image's child. With `ca` (for the Dockerfiles with a `host-ca`
/// stage: docker/base, docker/dev), it trusts the host's CA bundle, staged for this run alone.
pub(super) fn build_on_os(
    project: &Project,
    runner: &Runner,
    what: &str,
    build: Build,
    os: &OsImage,
    ca: Option<&HostCa>,
) -> Result<()> {
    runner.step(&format!("Building {what} {} on {}", build.tag, os.name));
    let mut build = build
        .build_arg("OS_IMAGE", &os.name)
        .label(BUILT_IN_LABEL, project.root.as_str());
    if let Some(ca) = ca {
        // The classic builder labels only the last stage: the host-ca stage, which each
        // build with a bundle leaves dangling, is labelled through BUILT_IN, for `clean`.
        build = build
            .build_arg("HOST_CA", &stage_host_ca(project, runner, ca)?)
            .build_arg("BUILT_IN", project.root.as_str());
    }
    runner.run(&build.into())
}

/// The Debian image every project image starts from, made when the engine lacks it.
pub(super) fn os_image(project: &Project, runner: &Runner) -> Result<OsImage> {
    let from_packages = &project.names.os_image;
    for image in [OS_IMAGE_FROM_REGISTRY, from_packages] {
        if let Some(id) = image_id(runner, image)? {
            return Ok(OsImage { name: image.into(), id });
        }
    }
    let made = |name: &str| -> Result<OsImage> {
        let id = image_id(runner, name)?.unwrap_or_else(|| name.into());
        Ok(OsImage { name: name.into(), id })
    };
    runner.step(&format!("Pulling the OS image {OS_IMAGE_FROM_REGISTRY}"));
    if runner.status(&docker::pull(OS_IMAGE_FROM_REGISTRY))? == 0 {
        return made(OS_IMAGE_FROM_REGISTRY);
    }
    runner.step(&format!(
        "No registry answered: building the OS image {from_packages} from Debian packages"
    ));
    build_os_image(runner, from_packages).with_context(|| {
        format!(
            "cannot build the OS image from Debian packages: that needs root and `debootstrap` \
             (`sudo apt-get install debootstrap`). Or make {OS_IMAGE_FROM_REGISTRY} available to the engine \
             (`docker pull`, or `docker load` of a saved image), then run this again"
        )
    })?;
    made(from_packages)
}

fn build_os_image(runner: &Runner, tag: &str) -> Result<()> {
    install_debootstrap(runner)?;
    // In the run's own directory: removed with it, even when the run is killed. debootstrap
    // cannot work in a path with spaces: then in the system's temporary directory, under the
    // run's name, removed with the run (`session`).
    let workdir = if runner.dry_run() {
        Utf8PathBuf::from("target/xtask/runs/RUN/os")
    } else {
        match runner.scratch("os")? {
            inside if !inside.as_str().contains(char::is_whitespace) => inside,
            _ => session::outside_scratch(&runner.run_name().name)?,
        }
    };
    fs::create_dir_all(&workdir).with_context(|| format!("cannot create {workdir}"))?;
    let rootfs = format!("{workdir}/rootfs");
    let tarball = format!("{workdir}/rootfs.tar");
    runner.run(&Cmd::new("debootstrap", ["--variant=minbase", "bookworm", &rootfs]))?;
    // What makes a registry's debian:bookworm-slim slim: no package caches or documentation.
    runner.run(&Cmd::new("cp", ["-R", &format!("{OS_OVERLAY}/."), &rootfs]))?;
    // Downloaded packages and apt lists would only bloat the image: every RUN updates first.
    let tar = [
        "-C",
        &rootfs,
        "--exclude=./var/cache/apt/archives/*.deb",
        "--exclude=./var/lib/apt/lists/*",
    ];
    runner.run(&Cmd::new("tar", tar.into_iter().chain(["-cf", &tarball, "."])))?;
    runner.run(&docker::import(&tarball, tag))
}

/// A fresh Debian-like machine lacks debootstrap; as root, install it the way a user would.
fn install_debootstrap(runner: &Runner) -> Result<()> {
    if which::which("debootstrap").is_ok() {
        return Ok(());
    }
    if !is_root(runner)? || which::which("apt-get").is_err() {
        bail!("`debootstrap` was not found on PATH");
    }
    runner.step("Installing debootstrap with apt-get");
    runner.run(&Cmd::new("apt-get", ["update", "-qq"]))?;
    runner.run(&Cmd::new(
        "apt-get",
        ["install", "-y", "-qq", "--no-install-recommends", "debootstrap"],
    ))
}

/// Puts the host's CA bundle in the build context under a name of this run's own, which the
/// run removes when it ends (`session`), and returns that path, relative to the root. The
/// Dockerfiles copy it into a stage of its own, then out of it by a path that is always the
/// same: the classic builder keys a COPY on the path in the context too, the copy out of the
/// stage on the content alone. With a TLS-inspecting proxy this is what lets pip reach its
/// index from inside the image.
fn stage_host_ca(project: &Project, runner: &Runner, ca: &HostCa) -> Result<String> {
    let staged = project::staged_ca(&runner.run_name().name);
    say!("   trusting the host's CA bundle {} inside the image", ca.path);
    if runner.dry_run() {
        return Ok(staged);
    }
    // Written in the run's directory (the session, and the watchdog that removes the staged
    // file if the run dies, start with it), then moved into place.
    let aside = runner.scratch("host-ca.crt")?;
    let path = project.root.join(&staged);
    fs::write(&aside, &ca.bytes).with_context(|| format!("cannot write {aside}"))?;
    // Mode bits count in the cache keys: the same whatever the umask.
    fs::set_permissions(&aside, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot make {aside} readable"))?;
    fs::rename(&aside, &path)
        .or_else(|_| fs::copy(&aside, &path).map(drop))
        .with_context(|| format!("cannot put the CA bundle in {path}"))?;
    Ok(staged)
}

/// The host's CA bundle (`host_ca_bundle`) and what it holds; `None` when there is none.
pub(super) fn host_ca() -> Result<Option<HostCa>> {
    let Some(path) = host_ca_bundle() else {
        return Ok(None);
    };
    let bytes = fs::read(&path).with_context(|| format!("cannot read the CA bundle {path}"))?;
    Ok(Some(HostCa { path, bytes }))
}

/// `SSL_CERT_FILE` when it names a file, else the usual system bundle locations.
pub(super) fn host_ca_bundle() -> Option<Utf8PathBuf> {
    let from_env = std::env::var("SSL_CERT_FILE").ok().map(Utf8PathBuf::from);
    let system = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ];
    from_env
        .into_iter()
        .chain(system.map(Utf8PathBuf::from))
        .find(|path| path.is_file())
}
