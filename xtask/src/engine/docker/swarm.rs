//! A swarm's verbs: what the engine's node is, the nodes, secrets, services and stacks.
//! Everything here asks or tells the manager the docker endpoint names; the swarm does the
//! rest on its nodes.

use crate::engine::cmd::Cmd;

fn docker<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Cmd {
    Cmd::new("docker", args)
}

/// `STATE MANAGER NODE`: the engine's swarm state (`inactive`, `active`, `pending`, `locked`,
/// `error`), whether it is a manager (`true`), and its node's id, on one line.
pub fn swarm_role() -> Cmd {
    docker([
        "info",
        "--format",
        "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}",
    ])
}

/// One line per node: `ID ADDRESS STATE AVAILABILITY LABEL`, LABEL the value of `label`
/// (`<no value>` when it has none).
pub fn nodes(label: &str) -> Cmd {
    docker([
        "node".to_string(),
        "inspect".into(),
        "--format".into(),
        format!(
            "{{{{.ID}}}} {{{{.Status.Addr}}}} {{{{.Status.State}}}} {{{{.Spec.Availability}}}} {{{{index .Spec.Labels \"{label}\"}}}}"
        ),
    ])
}

/// The ids of every node (for `nodes`, which needs them as arguments).
pub fn node_ids() -> Cmd {
    docker(["node", "ls", "--quiet"])
}

/// Gives the node `id` the label `key=value`.
pub fn label_node(id: &str, key: &str, value: &str) -> Cmd {
    docker(["node", "update", "--label-add", &format!("{key}={value}"), id])
}

/// The names of the secrets that have the label `key=value`, one a line.
pub fn secret_names(label: &str) -> Cmd {
    docker([
        "secret",
        "ls",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.Name}}",
    ])
}

/// Makes the secret `name` holding `value`, given on standard input: never in argv, the
/// output or the client's environment. Labelled so `deploy` knows it as the stack's.
pub fn create_secret(name: &str, label: &str, value: &str) -> Cmd {
    let mut cmd = docker(["secret", "create", "--label", label, name, "-"]);
    cmd.input = Some(value.into());
    cmd
}

/// Deploys the compose file `file` as the stack `stack`, the images resolved by the registry
/// to their digests, the registry's login handed to the nodes.
pub fn stack_deploy(file: &str, stack: &str) -> Cmd {
    docker([
        "stack",
        "deploy",
        "--with-registry-auth",
        "--prune",
        "--compose-file",
        file,
        stack,
    ])
}

/// `stack_deploy` without `--prune`: what the file does not name stays as it is.
pub fn stack_deploy_part(file: &str, stack: &str) -> Cmd {
    docker(["stack", "deploy", "--with-registry-auth", "--compose-file", file, stack])
}

pub fn stack_remove(stack: &str) -> Cmd {
    docker(["stack", "rm", stack])
}

/// The names of the stack's services, one a line.
pub fn stack_services(stack: &str) -> Cmd {
    docker([
        "service".to_string(),
        "ls".into(),
        "--filter".into(),
        format!("label=com.docker.stack.namespace={stack}"),
        "--format".into(),
        "{{.Name}}".into(),
    ])
}

/// What to know of services, one line each:
/// `NAME|REPLICAS|VERSION|UPDATE_STATE|UPDATE_MESSAGE`, REPLICAS empty for a global one.
pub fn services(names: &[String]) -> Cmd {
    let format = "{{.Spec.Name}}|{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}|\
                  {{index .Spec.Labels \"todobackend.version\"}}|\
                  {{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.Message}}{{else}}|{{end}}";
    docker(
        ["service", "inspect", "--format", format]
            .map(String::from)
            .into_iter()
            .chain(names.iter().cloned()),
    )
}

/// What a service runs now: `IMAGE|VERSION|PREVIOUS_IMAGE|PREVIOUS_VERSION`, from its spec and
/// the labels `deploy` gives it (`todobackend.version`, `todobackend.previous-*`).
pub fn service_release(service: &str) -> Cmd {
    docker([
        "service",
        "inspect",
        "--format",
        "{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{index .Spec.Labels \"todobackend.version\"}}|\
         {{index .Spec.Labels \"todobackend.previous-image\"}}|{{index .Spec.Labels \"todobackend.previous-version\"}}|\
         {{index .Spec.Labels \"todobackend.migrations\"}}",
        service,
    ])
}

/// The image each of the services `names` runs, as its spec names it, one a line.
pub fn service_images(names: &[String]) -> Cmd {
    docker(
        [
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
        ]
        .map(String::from)
        .into_iter()
        .chain(names.iter().cloned()),
    )
}

/// The ids of a service's tasks, as many as the swarm keeps of its history.
pub fn task_ids(service: &str) -> Cmd {
    docker(["service", "ps", "--quiet", "--no-trunc", service])
}

/// What to know of tasks, one line each:
/// `ID|SERVICE_ID|NODE_ID|SLOT|DESIRED|STATE|IMAGE|ERROR`.
pub fn tasks(ids: &[String]) -> Cmd {
    let format = "{{.ID}}|{{.ServiceID}}|{{.NodeID}}|{{.Slot}}|{{.DesiredState}}|{{.Status.State}}|\
                  {{.Spec.ContainerSpec.Image}}|{{.Status.Err}}";
    docker(
        ["inspect", "--type", "task", "--format", format]
            .map(String::from)
            .into_iter()
            .chain(ids.iter().cloned()),
    )
}

/// A service's tasks meant to run, one line each: `NODE|IMAGE|CURRENT STATE` (the node by
/// its host name).
pub fn running_tasks(service: &str) -> Cmd {
    docker([
        "service",
        "ps",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}}|{{.Image}}|{{.CurrentState}}",
        service,
    ])
}

/// Replaces a service's tasks with new ones of the same spec, returning once they run.
pub fn restart_service(service: &str) -> Cmd {
    docker(["service", "update", "--force", "--detach=false", "--quiet", service])
}

/// The last `lines` lines of a service's (or a task's) log, each with its time and task.
pub fn service_logs(service: &str, lines: u32) -> Cmd {
    docker([
        "service",
        "logs",
        "--timestamps",
        "--no-trunc",
        "--tail",
        &lines.to_string(),
        service,
    ])
}

pub fn remove_services(names: &[String]) -> Cmd {
    docker(
        ["service".to_string(), "rm".into()]
            .into_iter()
            .chain(names.iter().cloned()),
    )
}

/// A one-off task of a swarm service: a job (`replicated-job`, one task, or `global-job`,
/// one per node), never restarted, created detached so the caller follows it.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub image: String,
    pub global: bool,
    pub network: Option<String>,
    /// `(secret, file)`: the secret mounted as /run/secrets/FILE.
    pub secrets: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub labels: Vec<String>,
    pub entrypoint: Option<String>,
    pub command: Vec<String>,
}

impl From<Job> for Cmd {
    fn from(job: Job) -> Cmd {
        let mode = if job.global { "global-job" } else { "replicated-job" };
        let mut args: Vec<String> = [
            "service",
            "create",
            "--detach",
            "--with-registry-auth",
            "--name",
            &job.name,
        ]
        .map(String::from)
        .into();
        args.extend([
            "--mode".into(),
            mode.into(),
            "--restart-condition".into(),
            "none".into(),
        ]);
        if let Some(network) = &job.network {
            args.extend(["--network".into(), network.clone()]);
        }
        for (secret, file) in &job.secrets {
            args.extend(["--secret".into(), format!("source={secret},target={file}")]);
        }
        for (key, value) in &job.env {
            args.extend(["--env".into(), format!("{key}={value}")]);
        }
        for label in &job.labels {
            args.extend(["--label".into(), label.clone()]);
        }
        if let Some(entrypoint) = &job.entrypoint {
            args.extend(["--entrypoint".into(), entrypoint.clone()]);
        }
        args.push(job.image);
        args.extend(job.command);
        docker(args)
    }
}
