//! The tasks a user types, one module each: a `run` on the task's flags (`flags::Test` and
//! the others) that checks its input, gets a runner (`Runner::ready`), and composes the
//! machinery's steps. Nothing here prints a command or checks `--dry-run`: the runner does.

mod base_image;
mod build;
mod cache;
mod clean;
mod deploy;
mod dev_image;
mod doctor;
mod manage;
mod publish;
mod release;
mod serve;
mod test;
mod watchdog;
