//! `cargo xtask`: todobackend's Docker workflow, runnable from any directory of a checkout.
//!
//! Data flows one way: flags -> task -> command values -> runner.

mod bench;
mod config;
mod console;
mod engine;
mod fingerprint;
mod flags;
mod http;
mod machinery;
mod project;
mod runner;
mod signals;
mod tasks;

use std::process::ExitCode;

use console::{paint, say, show};
use flags::{Flags, Invocation, Task};
use project::Project;

fn main() -> ExitCode {
    let invocation = match flags::parse(std::env::args_os().skip(1)) {
        Ok(Flags::Run(invocation)) => invocation,
        Ok(Flags::Help(text)) => {
            show!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(usage) => {
            say!("{} {usage}\n\n{}", paint("1;31", "error:"), flags::USAGE);
            return ExitCode::from(2);
        }
    };
    signals::install();
    let outcome = run(invocation).and_then(|code| {
        // A signal that arrived while nothing was running still ends the run as interrupted.
        signals::check()?;
        Ok(code)
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(err) => match err.downcast_ref::<signals::Interrupted>() {
            // Nobody is reading any more: leave quietly.
            Some(&signals::Interrupted(signals::SIGPIPE)) => ExitCode::from(128 + signals::SIGPIPE as u8),
            Some(interrupted) => {
                say!("{} {err:#}", paint("1;31", "error:"));
                ExitCode::from(interrupted.exit_code())
            }
            None => {
                say!("{} {err:#}", paint("1;31", "error:"));
                ExitCode::FAILURE
            }
        },
    }
}

/// Runs `task`; the result is the process exit code.
fn run(Invocation { task, dry_run }: Invocation) -> anyhow::Result<u8> {
    let project = Project::locate()?;
    match task {
        Task::Doctor(task) => task.run(&project, dry_run),
        Task::BaseImage(task) => task.run(&project, dry_run),
        Task::DevImage(task) => task.run(&project, dry_run),
        Task::Cache(task) => task.run(&project, dry_run),
        Task::Test(task) => task.run(&project, dry_run),
        Task::Serve(task) => task.run(&project, dry_run),
        Task::Manage(task) => task.run(&project, dry_run),
        Task::Build(task) => task.run(&project, dry_run),
        Task::Clean(task) => task.run(&project, dry_run),
        Task::Release(task) => task.run(&project, dry_run),
        Task::Publish(task) => task.run(&project, dry_run),
        Task::Deploy(task) => task.run(&project, dry_run),
        Task::Undeploy(task) => task.run(&project, dry_run),
        Task::Bench(task) => task.run(&project, dry_run),
        Task::Watchdog(task) => task.run(&project, dry_run),
    }
}
