//! The base image, and the Debian image under every project image: pulled where a registry
//! answers, built from Debian packages where none does. The same command works in both places.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result, bail};
use camino::{Utf8Path, Utf8PathBuf};

use super::containers::image_id;
use super::host::{free_gib, is_root};
use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, BUILT_IN_LABEL, Build, STAGE_LABEL};
use crate::project::{self, BASE_DOCKERFILE, INPUTS_LABEL, OS_IMAGE_FROM_REGISTRY, Project};
use crate::runner::session;
use crate::runner::{Background, Finished, READ, Runner};

/// Files laid over the Debian tree: what makes a registry's debian:bookworm-slim slim (no
/// documentation unpacked, no package caches kept).
const OS_OVERLAY: &str = "docker/os/rootfs";
/// dpkg's part of it: in place before dpkg's first run, so that no package's documentation
/// is ever unpacked.
const OS_OVERLAY_DPKG: &str = "docker/os/rootfs/etc/dpkg";
/// The dpkg configuration that says which paths are not unpacked (`path-exclude`).
const OS_DPKG_EXCLUDES: &str = "docker/os/rootfs/etc/dpkg/dpkg.cfg.d/docker";
/// mmdebstrap's hooks that make /bin, /lib and /sbin links into /usr, as debootstrap and the
/// registry's images have them; without them it installs `usrmerge`, which brings Perl
/// (about 45 MB) into the image.
const MERGED_USR_HOOKS: &str = "/usr/share/mmdebstrap/hooks/merged-usr";

/// Builds the base image, unless the run built it beside the dev image.
pub fn build_base(project: &Project, runner: &Runner) -> Result<()> {
    if runner.made(&project.names.base_image) {
        // Beside the development image (`build_beside`)
        return Ok(());
    }
    let os = os_image(project, runner)?;
    let build = Build::new(&project.names.base_image, BASE_DOCKERFILE);
    build_on_os(project, runner, "the base image", build, &os, host_ca()?.as_ref()).map(drop)
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
pub fn image_state(
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
pub fn image_state_question(project: &Project, image: &str) -> Cmd {
    docker::image_labels(&[image, OS_IMAGE_FROM_REGISTRY, &project.names.os_image], INPUTS_LABEL)
}

/// What the answer to `image_state_question` says.
pub fn state_from(
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

/// Builds `build` as the OS image's child; returns the id of what it built, which stays right
/// even when another checkout retags the image meanwhile (its tag, in a dry run).
/// With `ca` (for the Dockerfiles with a `host-ca` stage: docker/base, docker/dev), it trusts
/// the host's CA bundle, staged for this run alone.
pub fn build_on_os(
    project: &Project,
    runner: &Runner,
    what: &str,
    build: Build,
    os: &OsImage,
    ca: Option<&HostCa>,
) -> Result<String> {
    runner.step(&format!("Building {what} {} on {}", build.tag, os.name));
    let build = on_os(project, runner, build, os, ca)?;
    if runner.dry_run() {
        let name = build.tag.clone();
        runner.run(&build.into())?;
        return Ok(name);
    }
    let iidfile = runner.scratch(&format!("{}.iid", build.stage.as_deref().unwrap_or("image")))?;
    runner.run(&build.iidfile(iidfile.as_str()).into())?;
    let id = fs::read_to_string(&iidfile).with_context(|| format!("docker build wrote no {iidfile}"))?;
    Ok(id.trim().to_string())
}

/// A build started beside the development image's (`build_on_os_beside`): `done` once what
/// it builds is needed.
pub struct BuildBeside {
    /// What it builds, as the run says it: `the image todobackend-db`.
    what: String,
    build: Background,
}

/// Starts `build_on_os` of `build` beside the development image's, its output kept and shown
/// only if it fails.
pub fn build_on_os_beside(
    project: &Project,
    runner: &Runner,
    what: &str,
    build: Build,
    os: &OsImage,
    ca: Option<&HostCa>,
) -> Result<BuildBeside> {
    let what = format!("{what} {}", build.tag);
    runner.meanwhile(&format!(
        "Building {what} on {} beside the development image (its output is shown if it fails)",
        os.name
    ));
    let build = runner.beside(&on_os(project, runner, build, os, ca)?.into())?;
    Ok(BuildBeside { what, build })
}

impl BuildBeside {
    /// Waits until it is built: an error with the end of its output if it failed.
    pub fn done(self, runner: &Runner) -> Result<()> {
        let Some(finished) = runner.finish(self.build)? else {
            return Ok(());
        };
        let what = self.what;
        finished.output_of(&format!("Building {what} beside the development image"))?;
        say!("   {what} was built beside the development image");
        Ok(())
    }
}

/// The base image's build, started beside the development image's (`release` needs both):
/// `build` then has nothing left to do.
pub fn build_beside(project: &Project, runner: &Runner, os: &OsImage, ca: Option<&HostCa>) -> Result<BuildBeside> {
    let build = Build::new(&project.names.base_image, BASE_DOCKERFILE);
    build_on_os_beside(project, runner, "the base image", build, os, ca)
}

/// `build` on the OS image `os`, labelled as the checkout's, with the host's CA bundle `ca`
/// staged for this run alone (see `build_on_os`).
fn on_os(project: &Project, runner: &Runner, build: Build, os: &OsImage, ca: Option<&HostCa>) -> Result<Build> {
    // A stage too (the classic builder adds a step for the labels, BuildKit none): its image
    // left dangling by a rebuild is found by `clean` as the others are.
    let mut build = build
        .build_arg("OS_IMAGE", &os.name)
        .label(BUILT_IN_LABEL, project.root.as_str())
        .built_by(runner.builder()?);
    if let Some(stage) = build.stage.clone() {
        build = build.label(STAGE_LABEL, &stage);
    }
    if let Some(ca) = ca {
        // The classic builder labels only the last stage: the host-ca stage, which each
        // build with a bundle leaves dangling, is labelled through BUILT_IN, for `clean`.
        build = build
            .build_arg("HOST_CA", &stage_host_ca(project, runner, ca)?)
            .build_arg("BUILT_IN", project.root.as_str());
    }
    Ok(build)
}

/// The Debian image every project image starts from, made when the engine lacks it.
pub fn os_image(project: &Project, runner: &Runner) -> Result<OsImage> {
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
    build_os_image(project, runner, from_packages).with_context(|| {
        format!(
            "cannot build the OS image from Debian packages: that needs root and `mmdebstrap` \
             (`sudo apt-get install mmdebstrap`). Or make {OS_IMAGE_FROM_REGISTRY} available to the engine \
             (`docker pull`, or `docker load` of a saved image), then run this again"
        )
    })?;
    made(from_packages)
}

fn build_os_image(project: &Project, runner: &Runner, tag: &str) -> Result<()> {
    install_mmdebstrap(runner)?;
    let workdir = os_workdir(runner)?;
    let tarball = format!("{workdir}/rootfs.tar");
    let excludes = fs::read_to_string(project.root.join(OS_DPKG_EXCLUDES))
        .with_context(|| format!("cannot read {OS_DPKG_EXCLUDES}"))?;
    runner.run(&mmdebstrap(&workdir, &tarball, &excluded_paths(&excludes)))?;
    runner.run(&docker::import(&tarball, tag))
}

/// Where mmdebstrap makes the tree (a directory of its own under TMPDIR, packed, then
/// removed) and the tarball: scratch space of the run's, removed with it even when the run is
/// killed (`session`). In memory where there is room: the tree is thousands of small files,
/// and on this machine's disk, shared with the engine, writing and removing them cost 5 to
/// 10 s more (medians of three: 27 against 16 s). Else in the run's directory, or outside the
/// checkout when its path has spaces, which mmdebstrap's hooks are not tested with.
fn os_workdir(runner: &Runner) -> Result<Utf8PathBuf> {
    if runner.dry_run() {
        return Ok(Utf8PathBuf::from("target/xtask/runs/RUN/os"));
    }
    // First: the run's session, whose watchdog removes the scratch space if the run dies.
    let inside = runner.scratch("os")?;
    let run = &runner.run_name().name;
    let memory = session::memory_scratch(run);
    if free_gib(runner, session::MEMORY)?.is_some_and(|free| free >= OS_TREE_GIB) && fs::create_dir_all(&memory).is_ok()
    {
        return Ok(memory);
    }
    let workdir = if inside.as_str().contains(char::is_whitespace) {
        session::outside_scratch(run)?
    } else {
        inside
    };
    fs::create_dir_all(&workdir).with_context(|| format!("cannot create {workdir}"))?;
    Ok(workdir)
}

/// Room the tree and the tarball need, with a margin: about 250 MB at most.
const OS_TREE_GIB: f64 = 1.0;

/// Debian bookworm's minimal system (`minbase`: the essential packages, those of priority
/// required, and apt), straight into the tarball `tarball`, with the overlay applied. Run from
/// the root (the hooks name the overlay by its relative path). Its sources.list names
/// bookworm, bookworm-updates and bookworm-security, as the registry's image does (debootstrap
/// named bookworm alone): an `apt-get install` in a Dockerfile gets the security fixes.
///
/// `--mode=unshare`, run as root, unshares the mount namespace only: the /dev, /proc and /sys
/// it mounts into the tree live in a namespace that ends with mmdebstrap, however it ends.
/// `--mode=root` mounts them in the host's, where a killed run would leave them, and where the
/// run's cleanup, removing its directory, would go down into the host's /dev. Both work as
/// root in this container and in CI (the same machine); unshare needs only `unshare(2)`.
///
/// The Essential:yes packages are unpacked by tar before dpkg's first run, which mmdebstrap
/// would filter package by package (a Python process each, about 15 s here) had dpkg's
/// configuration come with `--dpkgopt`. Instead the extract hook puts the overlay's dpkg
/// configuration in place and removes what tar unpacked under `excluded` (the licences
/// included): dpkg then installs those packages again with its path filters and force-unsafe-io,
/// as it does every other. The customize hook lays the whole overlay over the tree once apt is
/// done, and removes apt's package caches. mmdebstrap itself leaves out apt's lists and the
/// downloaded packages.
fn mmdebstrap(workdir: &Utf8Path, tarball: &str, excluded: &[String]) -> Cmd {
    let removed: Vec<String> = excluded.iter().map(|path| format!("\"$1\"{path}")).collect();
    let extract = format!(
        "cp -R {OS_OVERLAY_DPKG}/. \"$1/etc/dpkg\" && rm -rf {}",
        removed.join(" ")
    );
    let customize = format!("cp -R {OS_OVERLAY}/. \"$1\" && rm -f \"$1\"/var/cache/apt/*.bin");
    Cmd::new(
        "mmdebstrap",
        [
            "--variant=minbase",
            "--mode=unshare",
            "--format=tar",
            &format!("--hook-dir={MERGED_USR_HOOKS}"),
            &format!("--extract-hook={extract}"),
            &format!("--customize-hook={customize}"),
            "bookworm",
            tarball,
        ],
    )
    .env("TMPDIR", workdir.as_str())
}

/// The paths a dpkg configuration excludes (`path-exclude GLOB` or `path-exclude=GLOB`).
fn excluded_paths(dpkg_cfg: &str) -> Vec<String> {
    dpkg_cfg
        .lines()
        .filter_map(|line| line.trim().strip_prefix("path-exclude"))
        .map(|glob| glob.trim_start_matches([' ', '\t', '=']).trim().to_string())
        .filter(|glob| glob.starts_with('/'))
        .collect()
}

/// A fresh Debian-like machine lacks mmdebstrap; as root, install it the way a user would.
fn install_mmdebstrap(runner: &Runner) -> Result<()> {
    if which::which("mmdebstrap").is_ok() {
        return Ok(());
    }
    if !is_root(runner)? || which::which("apt-get").is_err() {
        bail!("`mmdebstrap` was not found on PATH");
    }
    runner.step("Installing mmdebstrap with apt-get");
    runner.run(&Cmd::new("apt-get", ["update", "-qq"]))?;
    runner.run(&Cmd::new(
        "apt-get",
        ["install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"],
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
    let path = project.root.join(&staged);
    // Staged once a run: the builds after the first (the tools stage, the dev image, a build
    // beside them whose client may be reading the context) find it in place.
    if !runner.dry_run() && fs::read(&path).is_ok_and(|bytes| bytes == ca.bytes) {
        return Ok(staged);
    }
    say!("   trusting the host's CA bundle {} inside the image", ca.path);
    if runner.dry_run() {
        return Ok(staged);
    }
    // Written in the run's directory (the session, and the watchdog that removes the staged
    // file if the run dies, start with it), then moved into place.
    let aside = runner.scratch("host-ca.crt")?;
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
pub fn host_ca() -> Result<Option<HostCa>> {
    let Some(path) = host_ca_bundle() else {
        return Ok(None);
    };
    let bytes = fs::read(&path).with_context(|| format!("cannot read the CA bundle {path}"))?;
    Ok(Some(HostCa { path, bytes }))
}

/// `SSL_CERT_FILE` when it names a file, else the usual system bundle locations.
pub fn host_ca_bundle() -> Option<Utf8PathBuf> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paths_dpkg_is_told_not_to_unpack_are_read_from_its_configuration() {
        let cfg = "# no documentation\npath-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n\
                   path-exclude=/usr/share/man/*\n  path-exclude\t/usr/share/locale/*\nforce-unsafe-io\n";
        assert_eq!(
            excluded_paths(cfg),
            ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*"]
        );
    }

    #[test]
    fn the_overlay_s_excludes_are_those_of_the_registry_s_slim_image() {
        let cfg = include_str!("../../../docker/os/rootfs/etc/dpkg/dpkg.cfg.d/docker");
        let excluded = excluded_paths(cfg);
        for path in ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*"] {
            assert!(excluded.iter().any(|glob| glob == path), "{excluded:?}");
        }
    }

    #[test]
    fn mmdebstrap_makes_a_minimal_bookworm_tarball_in_the_run_s_directory_with_the_overlay() {
        let excluded = ["/usr/share/doc/*".to_string(), "/usr/share/man/*".to_string()];
        let cmd = mmdebstrap(
            Utf8Path::new("target/xtask/runs/RUN/os"),
            "target/xtask/runs/RUN/os/rootfs.tar",
            &excluded,
        );
        assert_eq!(
            cmd.to_string(),
            "TMPDIR=target/xtask/runs/RUN/os mmdebstrap --variant=minbase --mode=unshare --format=tar \
             --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
             '--extract-hook=cp -R docker/os/rootfs/etc/dpkg/. \"$1/etc/dpkg\" && rm -rf \"$1\"/usr/share/doc/* \"$1\"/usr/share/man/*' \
             '--customize-hook=cp -R docker/os/rootfs/. \"$1\" && rm -f \"$1\"/var/cache/apt/*.bin' \
             bookworm target/xtask/runs/RUN/os/rootfs.tar"
        );
    }
}
