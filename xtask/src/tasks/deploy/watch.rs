//! What the swarm says of a deployment: an update followed to its end (or to the rollback
//! the swarm made, the failed task named with its log), `--status` and `--logs`.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::console::{say, show};
use crate::engine::docker;
use crate::machinery::swarm::{self, Updated};
use crate::runner::{READ, Runner};
use crate::signals;

/// How long an update may take before the deploy stops waiting (the swarm goes on).
const UPDATED_WITHIN: Duration = Duration::from_secs(300);

/// Follows `service`'s update to `image` to its end; an update the swarm rolled back is an
/// error naming the task that failed, with its log. Ctrl-C meanwhile says what goes on.
pub(super) fn follow(runner: &Runner, service: &str, image: &str, nodes: &[swarm::Node]) -> Result<()> {
    if runner.dry_run() {
        return Ok(());
    }
    let outcome = swarm::follow_update(runner, service, image, nodes.len(), UPDATED_WITHIN).inspect_err(|err| {
        if err.downcast_ref::<signals::Interrupted>().is_some() {
            say!(
                "   the swarm goes on updating {service} by itself (rolling it back if the new tasks are not \
                 healthy): `cargo xtask deploy --status` shows where it is"
            );
        }
    })?;
    let (message, failed) = match outcome {
        Updated::Done => return Ok(()),
        Updated::RolledBack { message, failed } => (message, failed),
        Updated::KeepsFailing(task) => {
            let log = runner.read(&docker::service_logs(&task.id, 20), READ)?;
            bail!(
                "{service}'s new tasks keep failing (the last, {}, on node {}: {}); the swarm goes on trying. \
                 Its last log lines:\n{}{}",
                task.id,
                swarm::address_of(nodes, &task.node),
                if task.error.is_empty() { "it ended" } else { &task.error },
                log.stdout,
                log.stderr
            );
        }
    };
    let Some(task) = failed else {
        bail!(
            "the swarm rolled {service} back ({message}): its new tasks did not become healthy; \
             `cargo xtask deploy --status` and `--logs` say why"
        );
    };
    let log = runner.read(&docker::service_logs(&task.id, 20), READ)?;
    bail!(
        "the swarm rolled {service} back to the version before, which serves on ({message}): its new task {} \
         on node {} did not become healthy (it ended {}{}). Its last log lines:\n{}{}",
        task.id,
        swarm::address_of(nodes, &task.node),
        task.state,
        if task.error.is_empty() {
            String::new()
        } else {
            format!(": {}", task.error)
        },
        log.stdout,
        log.stderr
    )
}

/// `--status`: each service's version, its healthy and wanted tasks, each task's node, and
/// its last update.
pub(super) fn status(runner: &Runner, stack: &str) -> Result<u8> {
    let names = runner.probe(&docker::stack_services(stack))?.unwrap_or_default();
    let names: Vec<String> = names.lines().map(String::from).collect();
    if names.is_empty() {
        show!("nothing of the stack {stack} is deployed on this swarm: `cargo xtask deploy`");
        return Ok(0);
    }
    let nodes = swarm::nodes(runner, "")?;
    let ready = nodes.iter().filter(|node| node.state == "ready").count();
    show!(
        "{:<22} {:<16} {:>8}  {}",
        "SERVICE",
        "VERSION",
        "HEALTHY",
        "LAST UPDATE"
    );
    for state in swarm::service_states(runner, &names)? {
        let tasks = swarm::tasks(runner, &state.name)?;
        let running: Vec<&swarm::Task> = tasks
            .iter()
            .filter(|task| task.desired == "running" && task.state == "running")
            .collect();
        let wanted = state.replicas.map_or(ready, |n| n as usize);
        let update = match (state.update.as_str(), state.message.as_str()) {
            ("", _) => "none".to_string(),
            (update, "") => update.to_string(),
            (update, message) => format!("{update}: {message}"),
        };
        let version = if state.version.is_empty() { "-" } else { &state.version };
        show!(
            "{:<22} {:<16} {:>8}  {update}",
            state.name,
            version,
            format!("{}/{wanted}", running.len())
        );
        for task in running {
            show!(
                "  task {} on node {}",
                &task.id[..task.id.len().min(12)],
                swarm::address_of(&nodes, &task.node)
            );
        }
    }
    Ok(0)
}

/// `--logs`: the last lines of each service's log, or of one.
pub(super) fn logs(runner: &Runner, stack: &str, service: Option<&str>) -> Result<u8> {
    let names: Vec<String> = match service {
        Some(service) => vec![format!("{stack}_{service}")],
        None => runner
            .probe(&docker::stack_services(stack))?
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect(),
    };
    if names.is_empty() {
        bail!("nothing of the stack {stack} is deployed on this swarm: `cargo xtask deploy`");
    }
    let mut code = 0;
    for name in names {
        runner.step(&format!("The last lines of {name}'s log"));
        code = code.max(runner.status(&docker::service_logs(&name, 100))?);
    }
    Ok(code)
}
