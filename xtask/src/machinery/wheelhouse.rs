//! The application's wheels: the dev image's second purpose in the lab. `pip wheel .` in a container
//! of the freshly built image leaves wheels of the application and of everything it needs in
//! /wheelhouse; they are copied to `target/wheels/`, the course's `make build`.

use std::fs;

use anyhow::{Result, bail};

use super::cache;
use super::containers::{copy_out_staged, put_in_place};
use super::dev_image::{self, Beside};
use crate::engine::docker::{self, Run};
use crate::project::{Project, WHEELS_DIR};
use crate::runner::Runner;

/// The dev image's PIP_WHEEL_DIR.
const WHEELHOUSE: &str = "/wheelhouse";

/// With what the run needs `beside` the dev image built meanwhile (see `dev_image::build`).
pub fn build(project: &Project, runner: &Runner, beside: &Beside) -> Result<()> {
    let run = runner.run_name();
    // Built, not reused: the wheel is made of the source baked into the image.
    let image = dev_image::build(project, runner, beside)?;
    cache::ensure(project, runner)?;

    runner.step(&format!(
        "Building wheels of the application and its dependencies into {WHEELHOUSE}"
    ));
    let name = run.container("build");
    let builder = Run::new(&image)
        .name(&name)
        .labels(&run.labels)
        .volumes_from(&project.names.cache_container)
        .command(["pip", "wheel", "."]);
    runner.make(&docker::create(builder), docker::remove_container(&name))?;
    runner.run(&docker::start_attached(&name))?;

    match copy_out_staged(runner, &name, WHEELHOUSE, WHEELS_DIR)? {
        Ok(Some(staged)) => put_in_place(project, runner, &staged, WHEELS_DIR)?.map_err(anyhow::Error::msg)?,
        Ok(None) => {}
        Err(problem) => bail!(problem),
    }
    if !runner.dry_run() {
        let count = fs::read_dir(project.root.join(WHEELS_DIR))
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
