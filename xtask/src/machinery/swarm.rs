//! A swarm as `deploy` sees it: the engine's role, the nodes, the tasks of a service, and
//! following a job or an update to its end. Questions only, asked of the manager; the tasks
//! change the swarm through the runner's verbs with `engine::docker`'s commands.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::console::say;
use crate::engine::docker;
use crate::runner::{READ, Runner};
use crate::signals;

/// How often a job is looked at while it runs.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// How often an update is looked at: each look is three docker clients, whose CPU the serving
/// tasks share on a small cluster, for an update that takes tens of seconds.
const LOOK_AT_AN_UPDATE_EVERY: Duration = Duration::from_secs(1);
/// Tasks of the new spec that may end, with no update under way that the swarm would roll
/// back (a new service, or one whose tasks fail after the update was done), before the
/// deploy counts it as failing.
const ENDED_BEFORE_FAILING: usize = 3;

/// The manager's node id; fails with what to do unless the docker endpoint is a swarm's
/// manager.
pub fn check_manager(runner: &Runner) -> Result<String> {
    let role = runner.probe(&docker::swarm_role())?.unwrap_or_default();
    let endpoint = runner.endpoint();
    let mut fields = role.split(' ');
    let (state, manager, node) = (fields.next(), fields.next(), fields.next().unwrap_or_default());
    match state.zip(manager) {
        Some(("active", "true")) => Ok(node.to_string()),
        Some(("active", _)) => bail!(
            "the engine at {endpoint} is a swarm worker: deploys go through a manager.\n\
             Point DOCKER_HOST (or `docker context use`) at a manager, e.g. DOCKER_HOST=ssh://user@manager"
        ),
        Some(("inactive", _)) => bail!(
            "the engine at {endpoint} is not in swarm mode.\n\
             On one machine: `docker swarm init`; on a cluster: point DOCKER_HOST at a manager \
             (`docker swarm init` on it, `docker swarm join` on the others)"
        ),
        Some(("locked", _)) => bail!("the swarm manager at {endpoint} is locked: `docker swarm unlock`"),
        _ => bail!(
            "the engine at {endpoint} is not a working swarm manager (its swarm state: {role:?}): see `docker info`"
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub address: String,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    /// Whether it has the label asked for.
    pub labelled: bool,
}

/// Every node, with whether it has `label` (`KEY` = `true`).
pub fn nodes(runner: &Runner, label: &str) -> Result<Vec<Node>> {
    let ids = runner.probe(&docker::node_ids())?.unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    let mut cmd = docker::nodes(label);
    cmd.args.extend(ids.iter().map(|id| id.to_string()));
    let lines = runner.probe(&cmd)?.unwrap_or_default();
    Ok(lines.lines().filter_map(parse_node).collect())
}

fn parse_node(line: &str) -> Option<Node> {
    let mut fields = line.split(' ');
    Some(Node {
        id: fields.next()?.into(),
        address: fields.next()?.into(),
        state: fields.next()?.into(),
        availability: fields.next()?.into(),
        labelled: fields.next() == Some("true"),
    })
}

/// A task of a service, as the swarm reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub node: String,
    pub desired: String,
    /// `new` ... `preparing`, `starting`, `running`, `complete`, `failed`, `rejected`, `shutdown`.
    pub state: String,
    pub image: String,
    pub error: String,
}

impl Task {
    pub fn failed(&self) -> bool {
        matches!(self.state.as_str(), "failed" | "rejected")
    }

    /// Whether it is over, one way or another (a job's tasks are never desired `running`).
    pub fn ended(&self) -> bool {
        self.failed() || matches!(self.state.as_str(), "complete" | "shutdown" | "orphaned" | "remove")
    }

    /// Whether it runs `image` and is meant to.
    fn runs(&self, image: &str) -> bool {
        same_image(&self.image, image) && self.desired == "running" && self.state == "running"
    }
}

/// The tasks the swarm keeps of `service` (its history too), none if it does not exist.
pub fn tasks(runner: &Runner, service: &str) -> Result<Vec<Task>> {
    let Some(ids) = runner.probe(&docker::task_ids(service))? else {
        return Ok(Vec::new());
    };
    let ids: Vec<String> = ids.split_whitespace().map(String::from).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let lines = runner.read(&docker::tasks(&ids), READ)?.stdout;
    Ok(lines.lines().filter_map(parse_task).collect())
}

fn parse_task(line: &str) -> Option<Task> {
    let fields: Vec<&str> = line.splitn(8, '|').collect();
    let [id, _service, node, _slot, desired, state, image, error] = fields[..] else {
        return None;
    };
    Some(Task {
        id: id.into(),
        node: node.into(),
        desired: desired.into(),
        state: state.into(),
        image: image.into(),
        error: error.trim().into(),
    })
}

/// The address of `node`'s id among `nodes`, for messages (every node of a swarm may have
/// the same host name).
pub fn address_of<'a>(nodes: &'a [Node], node: &'a str) -> &'a str {
    nodes.iter().find(|n| n.id == node).map_or(node, |n| n.address.as_str())
}

/// Waits until every task of the job `name` completed: `Ok(None)`, or the first that failed.
/// `expected` tasks (one, or one per node for a global job). Fails after `within`.
pub fn follow_job(runner: &Runner, name: &str, expected: usize, within: Duration) -> Result<Option<Task>> {
    let started = Instant::now();
    loop {
        let tasks = tasks(runner, name)?;
        if let Some(failed) = tasks.iter().find(|task| task.failed()) {
            return Ok(Some(failed.clone()));
        }
        if tasks.len() >= expected && tasks.iter().all(|task| task.state == "complete") {
            say!("   {name}: done in {:.1} s", started.elapsed().as_secs_f64());
            return Ok(None);
        }
        if started.elapsed() > within {
            let states: Vec<String> = tasks.iter().map(|task| task.state.clone()).collect();
            bail!(
                "{name} did not finish in {} s (its tasks: {}): `docker service ps --no-trunc {name}` shows why",
                within.as_secs(),
                states.join(", ")
            );
        }
        std::thread::sleep(LOOK_EVERY);
        signals::check()?;
    }
}

/// How an update of a service ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// Every task wanted runs `image`, healthy.
    Done,
    /// The swarm rolled it back (`message`): a task of the new spec failed.
    RolledBack { message: String, failed: Option<Task> },
    /// Its new tasks keep ending (the last one given): nothing to roll back to, or not yet.
    KeepsFailing(Task),
}

/// What an update of a service looks like: its state and message, and the replicas wanted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceState {
    pub name: String,
    pub replicas: Option<u32>,
    pub version: String,
    pub update: String,
    pub message: String,
}

pub fn service_states(runner: &Runner, names: &[String]) -> Result<Vec<ServiceState>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let lines = runner.read(&docker::services(names), READ)?.stdout;
    Ok(lines.lines().filter_map(parse_service).collect())
}

fn parse_service(line: &str) -> Option<ServiceState> {
    let fields: Vec<&str> = line.splitn(5, '|').collect();
    let [name, replicas, version, update, message] = fields[..] else {
        return None;
    };
    Some(ServiceState {
        name: name.into(),
        replicas: replicas.parse().ok(),
        version: if version == "<no value>" {
            String::new()
        } else {
            version.into()
        },
        update: update.into(),
        message: message.trim().into(),
    })
}

/// Follows the update of `service` to `image` (as its tasks name it: `REF@sha256:...`)
/// until every replica wanted (one per node of `nodes` for a global service) runs it
/// (`Done`) or the swarm has rolled it back. Fails after `within`, saying what the swarm goes
/// on doing.
pub fn follow_update(runner: &Runner, service: &str, image: &str, nodes: usize, within: Duration) -> Result<Updated> {
    let started = Instant::now();
    let mut said = String::new();
    loop {
        let state = service_states(runner, &[service.to_string()])?
            .pop()
            .unwrap_or_default();
        let tasks = tasks(runner, service)?;
        let wanted = state.replicas.map_or(nodes, |n| n as usize);
        let running = tasks.iter().filter(|task| task.runs(image)).count();
        let progress = format!(
            "{running}/{wanted} on the new version, update {}",
            or_none(&state.update)
        );
        if progress != said {
            say!("   {service}: {progress} ({:.0} s)", started.elapsed().as_secs_f64());
            said = progress.clone();
        }
        if let Some(outcome) = judge(&state, &tasks, image, wanted) {
            return Ok(outcome);
        }
        if started.elapsed() > within {
            bail!(
                "{service} is not on its new version after {} s ({progress}): the swarm goes on with it; \
                 `cargo xtask deploy --status` shows where it is",
                within.as_secs()
            );
        }
        std::thread::sleep(LOOK_AT_AN_UPDATE_EVERY);
        signals::check()?;
    }
}

/// How an update to `image` has ended, given the service's state and its tasks; `None`
/// while it goes on (a rollback under way included: it stops the new tasks on purpose).
fn judge(state: &ServiceState, tasks: &[Task], image: &str, wanted: usize) -> Option<Updated> {
    let new = |task: &&Task| same_image(&task.image, image);
    match state.update.as_str() {
        "rollback_completed" | "rollback_paused" => {
            // The one the swarm names ("... termination of task ID"); else one that failed;
            // else one the rollback stopped (a second try of its slot)
            let failed = tasks
                .iter()
                .find(|task| state.message.contains(&task.id))
                .or_else(|| {
                    tasks
                        .iter()
                        .filter(new)
                        .find(|task| task.failed() || !task.error.is_empty())
                })
                .or_else(|| tasks.iter().find(new));
            return Some(Updated::RolledBack {
                message: state.message.clone(),
                failed: failed.cloned(),
            });
        }
        update if update.starts_with("rollback") => return None,
        // The swarm counts each new task that ends and rolls the update back on the first:
        // the tasks that end meanwhile (its restarts, the slot it had begun) are no verdict.
        "updating" => return None,
        // No update under way (a new service has none), or the last one done: done once the
        // tasks are there, no older one left running.
        "" | "completed" => {
            let running = tasks.iter().filter(|task| task.runs(image)).count();
            let old_running = tasks
                .iter()
                .filter(|task| !same_image(&task.image, image))
                .any(|task| task.state == "running");
            if running >= wanted && !old_running {
                return Some(Updated::Done);
            }
        }
        _ => {}
    }
    let ended: Vec<&Task> = tasks
        .iter()
        .filter(new)
        .filter(|task| task.desired == "shutdown" && task.state != "running")
        .collect();
    (ended.len() >= ENDED_BEFORE_FAILING).then(|| Updated::KeepsFailing(ended[0].clone()))
}

/// The images the services of `stack` run now.
pub fn stack_images(runner: &Runner, stack: &str) -> Result<Vec<String>> {
    let names = runner.probe(&docker::stack_services(stack))?.unwrap_or_default();
    let names: Vec<String> = names.lines().map(String::from).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let images = runner.read(&docker::service_images(&names), READ)?.stdout;
    Ok(images.lines().map(String::from).collect())
}

/// Whether `image` is one of `running`, named by the same digest: a tag says nothing of the
/// image it names now.
pub fn runs_already(running: &[String], image: &str) -> bool {
    image.contains('@') && running.iter().any(|name| name == image)
}

/// Whether a task's image (`REF:TAG@sha256:...`, as the swarm pins it) is `image`, given
/// by digest or by tag.
fn same_image(task_image: &str, image: &str) -> bool {
    task_image == image
        || task_image.split_once('@').map(|(_, digest)| digest) == image.split_once('@').map(|(_, digest)| digest)
            && image.contains('@')
        || task_image.split_once('@').map(|(name, _)| name) == Some(image)
}

fn or_none(state: &str) -> &str {
    if state.is_empty() { "none" } else { state }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_line_gives_its_node_state_image_and_error() {
        let task = parse_task("t1|s1|n1|2|shutdown|failed|r/app:v2@sha256:cd|task: non-zero exit (1)").unwrap();
        assert_eq!(task.node, "n1");
        assert!(task.failed());
        assert_eq!(task.error, "task: non-zero exit (1)");
        assert!(same_image(&task.image, "r/app:v2"));
        assert!(same_image(&task.image, "r/app@sha256:cd"));
        assert!(!same_image(&task.image, "r/app:v1"));
        assert!(!same_image("r/app:v1@sha256:ab", "r/app@sha256:cd"));
    }

    fn task(id: &str, desired: &str, state: &str, image: &str) -> Task {
        parse_task(&format!("{id}|s|n1|1|{desired}|{state}|{image}@sha256:cd|")).unwrap()
    }

    /// Three tasks of `r/app:v2`, ended `state`.
    fn three_ended(state: &str) -> Vec<Task> {
        (0..3)
            .map(|i| task(&format!("t{i}"), "shutdown", state, "r/app:v2"))
            .collect()
    }

    fn update(update: &str) -> ServiceState {
        parse_service(&format!("s_app|3|v2|{update}|")).unwrap()
    }

    #[test]
    fn new_tasks_a_rollback_stops_are_no_failure_until_it_completes() {
        let stopped = three_ended("shutdown");
        assert_eq!(judge(&update("rollback_started"), &stopped, "r/app:v2", 3), None);
        assert!(matches!(
            judge(&update("rollback_completed"), &stopped, "r/app:v2", 3),
            Some(Updated::RolledBack { failed: Some(_), .. })
        ));
    }

    #[test]
    fn new_tasks_that_end_fail_a_deploy_only_when_the_swarm_rolls_nothing_back() {
        let ended = three_ended("complete");
        // Its rollback follows the first that ended, a moment later
        assert_eq!(judge(&update("updating"), &ended, "r/app:v2", 3), None);
        for nothing_to_roll_back in ["", "completed", "paused"] {
            assert!(
                matches!(
                    judge(&update(nothing_to_roll_back), &ended, "r/app:v2", 3),
                    Some(Updated::KeepsFailing(_))
                ),
                "{nothing_to_roll_back}"
            );
        }
    }

    #[test]
    fn a_rollback_names_the_task_the_swarm_names() {
        let failed = |tasks: &[Task], message: &str| {
            let mut state = update("rollback_completed");
            state.message = message.into();
            match judge(&state, tasks, "r/app:v2", 3) {
                Some(Updated::RolledBack { failed: Some(task), .. }) => task.id,
                other => panic!("{other:?}"),
            }
        };
        let mut tasks = vec![
            task("restart", "shutdown", "shutdown", "r/app:v2"),
            task("first", "shutdown", "complete", "r/app:v2"),
        ];
        let named = "update rolled back due to failure or early termination of task first";
        assert_eq!(failed(&tasks, named), "first");
        tasks.reverse();
        assert_eq!(
            failed(&tasks, "rollback completed"),
            "first",
            "none named: the first new one"
        );
    }

    #[test]
    fn an_update_is_done_once_every_task_runs_the_new_image_and_no_old_one_runs() {
        let mut tasks: Vec<Task> = (0..3)
            .map(|i| task(&format!("t{i}"), "running", "running", "r/app:v2"))
            .collect();
        assert_eq!(judge(&update("completed"), &tasks, "r/app:v2", 3), Some(Updated::Done));
        tasks.push(task("old", "shutdown", "running", "r/app:v1"));
        assert_eq!(judge(&update("completed"), &tasks, "r/app:v2", 3), None);
    }

    #[test]
    fn a_node_line_gives_its_address_state_and_label() {
        let node = parse_node("abc 10.0.0.2 ready active true").unwrap();
        assert_eq!(
            (node.address.as_str(), node.state.as_str(), node.labelled),
            ("10.0.0.2", "ready", true)
        );
        assert!(!parse_node("abc 10.0.0.2 down active <no value>").unwrap().labelled);
    }

    #[test]
    fn a_service_line_gives_replicas_version_and_update() {
        let state = parse_service("s_app|3|v2|rollback_completed|rollback completed").unwrap();
        assert_eq!(state.replicas, Some(3));
        assert_eq!(state.update, "rollback_completed");
        assert_eq!(parse_service("s_edge||<no value>||").unwrap().replicas, None);
    }

    #[test]
    fn only_an_image_named_by_the_digest_a_service_runs_is_running_already() {
        let running = ["r/db@sha256:ab".to_string(), "r/app:v1@sha256:cd".to_string()];
        assert!(runs_already(&running, "r/db@sha256:ab"));
        assert!(!runs_already(&running, "r/db@sha256:ef"), "another digest");
        assert!(
            !runs_already(&running, "r/app:v1"),
            "a tag may name another image by now"
        );
        assert!(!runs_already(&[], "r/db@sha256:ab"));
    }

    #[test]
    fn a_job_s_task_goes_on_until_it_completes_fails_or_is_shut_down() {
        // A job's tasks are desired `complete` from the start: only their state tells.
        for state in ["pending", "preparing", "starting", "running"] {
            assert!(!task("t", "complete", state, "r/app:v2").ended(), "{state}");
        }
        for state in ["complete", "failed", "rejected", "shutdown", "orphaned"] {
            assert!(task("t", "complete", state, "r/app:v2").ended(), "{state}");
        }
    }
}
