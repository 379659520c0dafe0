//! `cargo xtask`: todobackend's Docker workflow, runnable from any directory of a checkout.
//!
//! Data flows one way: flags -> task -> command values -> runner.

mod cmd;
mod config;
mod console;
mod docker;
mod engine;
mod fingerprint;
mod flags;
mod http;
mod project;
mod runner;
mod session;
mod signals;
mod tasks;
mod toml_doc;

use std::process::ExitCode;

use console::{paint, say, show};
use flags::{Flags, Invocation, Task};
use project::Project;
use runner::Runner;

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
    // Input is checked before docker is looked for, so a typo costs nothing.
    if let Task::Test { settings, .. } | Task::Manage { settings, .. } | Task::Serve { settings, .. } = &task {
        project.check_settings(settings)?;
    }
    if let Task::Release { settings, .. } = &task {
        project.check_settings(settings)?;
        tasks::release::check(&project)?;
    }
    match task {
        Task::Doctor => return tasks::doctor::run(&project, Runner::new(&project, dry_run)),
        Task::Watchdog { run } => return session::watch(&project, &run),
        _ => {}
    }
    let runner = Runner::new(&project, dry_run)?;
    let engine = runner.check_engine_and_ask(&tasks::asked_first(&project, &task))?;
    let problems = engine.cannot(|| runner.has_buildx().unwrap_or(false));
    if let Some(problem) = problems.first() {
        anyhow::bail!("{problem}");
    }
    match task {
        Task::BaseImage => tasks::base_image::build(&project, &runner).map(|()| 0),
        Task::DevImage => tasks::dev_image::build(&project, &runner, &tasks::dev_image::Beside::default()).map(|_| 0),
        Task::Cache { reset } => tasks::cache::create(&project, &runner, reset).map(|()| 0),
        Task::Test { settings, baked, args } => tasks::test::run(&project, &runner, &settings, baked, &args),
        Task::Serve { settings, port } => tasks::serve::run(&project, &runner, &settings, port),
        Task::Manage { settings, args } => tasks::manage::run(&project, &runner, &settings, &args),
        Task::Clean { all, images } => tasks::clean::run(&project, &runner, all, images).map(|()| 0),
        Task::Bench { rounds, only } => tasks::bench::run(&project, &runner, rounds, only).map(|()| 0),
        Task::Build => tasks::build::run(&project, &runner, &tasks::dev_image::Beside::default()).map(|()| 0),
        Task::Release { settings, keep } => tasks::release::run(&project, &runner, &settings, keep),
        Task::Publish {
            registry,
            repository,
            force,
        } => tasks::publish::run(&project, &runner, &registry, &repository, force),
        Task::Doctor | Task::Watchdog { .. } => unreachable!("handled above"),
    }
}
