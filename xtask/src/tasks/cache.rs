//! `cargo xtask cache [--reset]`: the lab's volume container `cache`, made (or made anew).

use anyhow::Result;

use crate::flags;
use crate::machinery::cache;
use crate::project::{Names, Project};
use crate::runner::Runner;

impl flags::Cache {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let runner = Runner::ready(project, dry_run, &[])?;
        create(project, &runner, self.reset).map(|()| 0)
    }
}

fn create(project: &Project, runner: &Runner, reset: bool) -> Result<()> {
    let Names {
        cache_container,
        cache_volume,
        ..
    } = &project.names;
    if reset {
        cache::remove(project, runner)?;
    } else if cache::exists(project, runner)? {
        runner.step(&format!(
            "The cache container `{cache_container}` exists (data in volume {cache_volume}); `--reset` recreates it"
        ));
        return Ok(());
    }
    cache::make(project, runner)
}
