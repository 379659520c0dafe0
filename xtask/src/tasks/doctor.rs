//! `cargo xtask doctor`: everything the tasks need, one line each, ok or what to do. Fails
//! only on what blocks `cargo xtask test`; what a task would make itself is fine.

use anyhow::Result;

use crate::console::{paint, show};
use crate::engine::docker;
use crate::flags;
use crate::machinery::containers::image_exists;
use crate::machinery::host::{free_gib, is_root};
use crate::machinery::images::{self, State};
use crate::machinery::{cache, dev_image, kept, lifecycle, orphans, worker};
use crate::project::{Names, OS_IMAGE_FROM_REGISTRY, Project};
use crate::runner::Runner;

impl flags::Doctor {
    /// Asks the engine itself: an engine that does not answer is a finding, not an error.
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        run(project, Runner::new(project, dry_run))
    }
}

/// Below this much free space for the engine, images cannot be built.
const MIN_FREE_GIB: f64 = 2.0;

/// Prints the checks; the result is the exit code: 1 when something blocks the main task.
fn run(project: &Project, runner: Result<Runner>) -> Result<u8> {
    let mut blocked = false;
    let mut report = |ok: bool, what: &str| {
        let status = if ok { paint("32", "ok  ") } else { paint("1;31", "FAIL") };
        show!("{status}  {what}");
        blocked |= !ok;
    };
    let runner = match runner {
        Ok(runner) => runner,
        Err(err) => {
            report(false, &format!("{err:#}"));
            return Ok(1);
        }
    };
    let engine = match runner.check_engine() {
        Ok(engine) => engine,
        Err(err) => {
            let client = runner.probe(&docker::client_version())?.unwrap_or_default();
            report(!client.is_empty(), &format!("docker client: {client}"));
            let via = match std::env::var("DOCKER_HOST") {
                Ok(host) if !host.is_empty() => "DOCKER_HOST".to_string(),
                _ => "the docker context".to_string(),
            };
            report(false, &format!("engine at {} (from {via}): {err:#}", runner.endpoint()));
            return Ok(1);
        }
    };
    report(true, &format!("docker client: {}", engine.client));
    report(
        true,
        &format!(
            "engine: {} {} at {} (from {})",
            engine.kind, engine.version, engine.endpoint, engine.via
        ),
    );
    report(true, &format!("builder: {}", runner.builder()?));
    for problem in engine.cannot(|| runner.has_buildx().unwrap_or(false)) {
        report(false, &problem);
    }
    if engine.is_local() {
        report(
            true,
            "local engine: `test` mounts src/, so an edit is tested without a build",
        );
    } else {
        report(
            true,
            "remote engine: it cannot see this checkout, so `test` builds and tests the source baked into the image",
        );
    }
    for run in lifecycle::recover(project, &runner, true)? {
        report(
            true,
            &format!("run {run} had ended without cleaning up (its owner is gone): removed what it left"),
        );
    }

    // A remote engine's disk cannot be seen from here.
    let root_dir = runner.probe(&docker::data_root(engine.podman_cli))?.unwrap_or_default();
    if !engine.is_local() {
        report(
            true,
            &format!("free space in {root_dir} on the remote engine: cannot be read from here"),
        );
    } else {
        match free_gib(&runner, &root_dir)? {
            Some(free) => report(
                free >= MIN_FREE_GIB,
                &format!("{free:.1} GiB free for the engine's data in {root_dir} (builds need {MIN_FREE_GIB} GiB)"),
            ),
            None => report(true, &format!("free space in {root_dir}: cannot read it from here")),
        }
    }

    let Names {
        os_image: os_image_from_packages,
        base_image,
        dev_image,
        cache_container,
        ..
    } = &project.names;
    let os_image = [OS_IMAGE_FROM_REGISTRY, os_image_from_packages]
        .into_iter()
        .find(|image| image_exists(&runner, image).unwrap_or(false));
    let os_line = match os_image {
        Some(image) => format!("OS image {image}"),
        None if is_root(&runner)? => format!(
            "OS image: none yet; the first build pulls {OS_IMAGE_FROM_REGISTRY}, or builds {os_image_from_packages} with mmdebstrap"
        ),
        None => format!(
            "OS image: none yet; the first build pulls {OS_IMAGE_FROM_REGISTRY} (no registry? run as root, with mmdebstrap installed)"
        ),
    };
    report(true, &os_line);
    let base = if image_exists(&runner, base_image)? {
        format!("base image {base_image}")
    } else {
        format!("base image {base_image}: not built yet; `cargo xtask base-image` builds it (tests do not need it)")
    };
    report(true, &base);
    let dev = match dev_image::state(project, &runner)? {
        State::Missing => {
            format!("development image {dev_image}: not built yet; `cargo xtask test` builds it")
        }
        State::Current(_) => format!(
            "development image {dev_image}, current with the Dockerfiles, scripts, requirements, OS image and CA bundle"
        ),
        State::Stale => format!(
            "development image {dev_image}, older than a change to the Dockerfiles, scripts, requirements, OS image \
             or CA bundle: the next test run rebuilds it"
        ),
    };
    report(true, &dev);
    match cache::exists(project, &runner) {
        Ok(false) => report(
            true,
            &format!("pip cache container `{cache_container}`: none yet; `cargo xtask cache` or a test run makes it"),
        ),
        Ok(true) => report(true, &format!("pip cache container `{cache_container}`")),
        Err(err) => report(false, &format!("{err:#}")),
    }
    let wheels = &project.names.wheels_volume;
    report(
        true,
        &if dev_image::wheels_kept(project, &runner)? {
            format!("requirements' wheels kept in volume {wheels}, shared by every checkout on the engine")
        } else {
            format!(
                "requirements' wheels: none kept yet; the next build of the dev image makes them in volume {wheels}"
            )
        },
    );
    let kept = kept::volumes(project, &runner)?;
    if kept.is_empty() {
        report(true, "data kept by `serve`: none yet");
    } else {
        report(
            true,
            &format!(
                "data kept by `serve`: {} (`cargo xtask clean --data` removes it)",
                kept.join(", ")
            ),
        );
    }
    let orphans = orphans::find(&runner)?;
    if !orphans.left.is_empty() {
        orphans::remove_left(&runner, &orphans)?;
        let names: Vec<&str> = orphans.left.iter().map(|(_, name)| name.as_str()).collect();
        report(
            true,
            &format!(
                "checkouts that are gone had left {}: removed (their workers, runs)",
                names.join(", ")
            ),
        );
    }
    if !orphans.data.is_empty() {
        report(
            true,
            &format!(
                "data kept by `serve` for checkouts that are gone: {} (`cargo xtask clean --data` removes it)",
                orphans.data.join(", ")
            ),
        );
    }
    let worker = worker::present(project, &runner)?;
    if worker.is_empty() {
        report(true, "test worker: none running; the next `cargo xtask test` starts it");
    } else {
        report(
            true,
            &format!(
                "test worker: {} (kept warm between runs; `cargo xtask clean` removes it)",
                worker.join(", ")
            ),
        );
    }
    let ca = match images::host_ca_bundle() {
        Some(bundle) => {
            format!("CA bundle {bundle}: trusted inside the images, for HTTPS through a TLS-inspecting proxy")
        }
        None => "CA bundle: none found (SSL_CERT_FILE, /etc/ssl/certs); images trust only Debian's CAs".to_string(),
    };
    report(true, &ca);
    for (name, service) in &project.config.services {
        let image = &service.image;
        match (image_exists(&runner, image)?, &service.dockerfile) {
            (true, _) => report(true, &format!("{name} service image {image}")),
            (false, Some(dockerfile)) => report(
                true,
                &format!(
                    "{name} service image {image}: not built yet; a test run that needs it builds it from {dockerfile}"
                ),
            ),
            (false, None) => report(
                false,
                &format!("{name} service image {image}: missing; `docker pull {image}`"),
            ),
        }
    }
    Ok(u8::from(blocked))
}
