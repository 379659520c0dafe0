//! What a run made, as the commands that remove it: registered before it is made, run when the
//! runner goes away, newest first.

use std::cell::RefCell;
use std::process::Stdio;

use super::process::{Group, MAKE, Processes, Wait};
use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker;

#[derive(Default)]
pub struct Undo(RefCell<Vec<Cmd>>);

impl Undo {
    pub fn register(&self, undo: Cmd) {
        self.0.borrow_mut().push(undo);
    }

    /// `undo` ran already, or what it removes is gone by itself.
    pub fn forget(&self, undo: &Cmd) {
        self.0.borrow_mut().retain(|registered| registered != undo);
    }

    /// Leaves what is named `names` in place.
    pub fn keep(&self, names: &[String]) {
        self.0
            .borrow_mut()
            .retain(|undo| !undo.args.iter().any(|arg| names.contains(arg)));
    }

    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Removes all of it, newest first (containers made one after the other in one call),
    /// each command echoed. Never interrupted: a second Ctrl-C must not leave half of it
    /// behind. True when all of it is gone.
    pub fn remove(&self, processes: &Processes, group: Group, dry_run: bool) -> bool {
        let undo = self.0.take();
        let mut all_gone = true;
        let wait = Wait {
            deadline: MAKE,
            interruptible: false,
        };
        for cmd in docker::merge_removals(undo.into_iter().rev()) {
            say!("$ {cmd}");
            if dry_run {
                continue;
            }
            match processes.execute(&cmd, Stdio::null(), true, wait, group) {
                Ok(finished) if finished.ok() => {}
                Ok(finished) => {
                    // Gone already (never made, or `--rm`): nothing to do, for each one named.
                    let stderr = finished.stderr.trim();
                    let gone = |line: &str| line.contains("No such") || line.contains("not found");
                    if stderr.is_empty() || !stderr.lines().filter(|line| !line.trim().is_empty()).all(gone) {
                        say!("warning: `{cmd}` failed: {stderr}");
                        all_gone = false;
                    }
                }
                Err(err) => {
                    say!("warning: {err:#}");
                    all_gone = false;
                }
            }
        }
        all_gone
    }
}
