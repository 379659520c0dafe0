//! `cargo xtask dev-image`: the lab's development image, built from the root whatever the
//! current directory.

use anyhow::Result;

use crate::flags;
use crate::machinery::dev_image::{self, Beside};
use crate::project::Project;
use crate::runner::Runner;

impl flags::DevImage {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let runner = Runner::ready(project, dry_run, &[])?;
        dev_image::build(project, &runner, &Beside::default()).map(|_| 0)
    }
}
