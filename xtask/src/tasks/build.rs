//! `cargo xtask build`: wheels of the application and all it needs in `target/wheels/`.

use anyhow::Result;

use crate::flags;
use crate::machinery::dev_image::Beside;
use crate::machinery::wheelhouse;
use crate::project::Project;
use crate::runner::Runner;

impl flags::Build {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let runner = Runner::ready(project, dry_run, &[])?;
        wheelhouse::build(project, &runner, &Beside::default()).map(|()| 0)
    }
}
