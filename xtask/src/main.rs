//! `cargo xtask`: todobackend's Docker workflow, runnable from any directory of a checkout.
//!
//! Data flows one way: flags -> task -> command values -> runner.

mod cmd;
mod config;
mod docker;
mod flags;
mod project;
mod runner;
mod signals;
mod tasks;

use std::process::ExitCode;

use flags::{Flags, Invocation, Task};
use project::Project;
use runner::Runner;

fn main() -> ExitCode {
    let invocation = match flags::parse(std::env::args_os().skip(1)) {
        Ok(Flags::Run(invocation)) => invocation,
        Ok(Flags::Help(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(usage) => {
            eprintln!("{} {usage}\n\n{}", runner::paint("1;31", "error:"), flags::USAGE);
            return ExitCode::from(2);
        }
    };
    signals::install();
    match run(invocation) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("{} {err:#}", runner::paint("1;31", "error:"));
            match err.downcast_ref::<signals::Interrupted>() {
                Some(interrupted) => ExitCode::from(interrupted.exit_code()),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Runs `task`; the result is the process exit code.
fn run(Invocation { task, dry_run }: Invocation) -> anyhow::Result<u8> {
    let project = Project::locate()?;
    // Input is checked before docker is looked for, so a typo costs nothing.
    if let Task::Test { settings, .. } = &task {
        project.check_settings(settings)?;
    }
    if task == Task::Doctor {
        return tasks::doctor::run(&project, Runner::new(&project.root, dry_run));
    }
    let runner = Runner::new(&project.root, dry_run)?;
    runner.check_engine()?;
    let code = match task {
        Task::BaseImage => tasks::base_image::build(&project, &runner).map(|()| 0),
        Task::DevImage => tasks::dev_image::build(&project, &runner).map(|_| 0),
        Task::Cache { reset } => tasks::cache::create(&project, &runner, reset).map(|()| 0),
        Task::Test { settings, baked, args } => tasks::test::run(&project, &runner, &settings, baked, &args),
        Task::Clean { all } => tasks::clean::run(&runner, all).map(|()| 0),
        Task::Bench { rounds } => tasks::bench::run(&project, &runner, rounds).map(|()| 0),
        Task::Build => tasks::build::run(&project, &runner).map(|()| 0),
        Task::Doctor => unreachable!("doctor checks the engine itself"),
    }?;
    // A signal that arrived while nothing was running still ends the run as interrupted.
    signals::check()?;
    Ok(code)
}
