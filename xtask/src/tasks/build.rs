//! `cargo xtask build`: the dev image's second purpose in the lab. `pip wheel .` in a container
//! of the freshly built image leaves wheels of the application and of everything it needs in
//! /wheelhouse; they are copied to `target/wheels/`, the course's `make build`.

use std::fs;

use anyhow::{Context, Result, bail};

use super::{cache, dev_image};
use crate::docker::{self, Run};
use crate::project::{CACHE_CONTAINER, Project, WHEELS_DIR};
use crate::runner::Runner;

/// The dev image's PIP_WHEEL_DIR.
const WHEELHOUSE: &str = "/wheelhouse";

pub fn run(project: &Project, runner: &Runner) -> Result<()> {
    let run = project.run_name()?;
    // Built, not reused: the wheel is made of the source baked into the image.
    let image = dev_image::build(project, runner)?;
    cache::ensure(project, runner)?;

    runner.step(&format!(
        "Building wheels of the application and its dependencies into {WHEELHOUSE}"
    ));
    let name = run.container("build");
    let builder = Run::new(&image)
        .name(&name)
        .labels(&run.labels)
        .volumes_from(CACHE_CONTAINER)
        .command(["pip", "wheel", "."]);
    runner.make(&docker::create(builder), docker::remove_container(&name))?;
    runner.run(&docker::start_attached(&name))?;

    let wheels = project.root.join(WHEELS_DIR);
    if !runner.dry_run() {
        let _ = fs::remove_dir_all(&wheels);
        fs::create_dir_all(project.root.join("target")).context("cannot create target/")?;
    }
    runner.run(&docker::copy_out(&name, WHEELHOUSE, WHEELS_DIR))?;
    if !runner.dry_run() {
        let count = fs::read_dir(&wheels)
            .map(|entries| {
                let wheel = |entry: &std::fs::DirEntry| entry.path().extension().is_some_and(|ext| ext == "whl");
                entries.filter(|entry| entry.as_ref().is_ok_and(wheel)).count()
            })
            .unwrap_or(0);
        if count == 0 {
            bail!("no wheels reached {WHEELS_DIR}/: see pip's output above");
        }
        runner.step(&format!(
            "{count} wheels in {WHEELS_DIR}/: `pip install --no-index --find-links {WHEELS_DIR} todobackend` installs them offline"
        ));
    }
    Ok(())
}
