//! `__watchdog RUN`: not for people. The xtask starts itself so beside each run that changes
//! something (`runner::session`), to remove what the run left if it dies.

use anyhow::Result;

use crate::flags;
use crate::machinery::lifecycle;
use crate::project::Project;

impl flags::Watchdog {
    pub fn run(self, project: &Project, _dry_run: bool) -> Result<u8> {
        lifecycle::watch(project, &self.run)
    }
}
