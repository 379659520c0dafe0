//! `cargo xtask base-image`: the runtime the application's wheels install into.

use anyhow::Result;

use crate::flags;
use crate::machinery::images;
use crate::project::Project;
use crate::runner::Runner;

impl flags::BaseImage {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        images::build_base(project, &Runner::ready(project, dry_run, &[])?).map(|()| 0)
    }
}
