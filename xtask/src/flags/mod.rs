//! The command line: tasks and their options. Hand-rolled to keep the xtask quick to build.

use std::ffi::OsString;

mod help;

pub use help::USAGE;
use help::*;

#[derive(Debug, PartialEq, Eq)]
pub enum Flags {
    /// Print this text and exit 0.
    Help(&'static str),
    Run(Invocation),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    pub task: Task,
    /// Print the commands that would change something, run none of them.
    pub dry_run: bool,
}

/// The part of `cargo xtask bench` that `--only` runs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchPart {
    /// The warm edit->test loop beside the native run, `--settings test` and the floor.
    Loop,
    /// The release image: size, start, stop, load.
    Release,
    /// `deploy` on a 3-node swarm built on this machine: an update, a rollback, a lost node.
    Deploy,
}

/// A task a user types, with its options: each task's module gives it a `run`.
#[derive(Debug, PartialEq, Eq)]
pub enum Task {
    BaseImage(BaseImage),
    DevImage(DevImage),
    Cache(Cache),
    Test(Test),
    Serve(Serve),
    Manage(Manage),
    Clean(Clean),
    Bench(Bench),
    Doctor(Doctor),
    Build(Build),
    Publish(Publish),
    Release(Release),
    Deploy(Deploy),
    Undeploy(Undeploy),
    Watchdog(Watchdog),
}

#[derive(Debug, PartialEq, Eq)]
pub struct BaseImage;

#[derive(Debug, PartialEq, Eq)]
pub struct DevImage;

#[derive(Debug, PartialEq, Eq)]
pub struct Cache {
    pub reset: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Test {
    pub settings: String,
    /// Test the source baked into the image, as CI does, rather than mounting `src/`.
    pub baked: bool,
    pub args: Vec<String>,
}

/// The API from the dev container on `http://HOST:port/todos`, until Ctrl-C.
#[derive(Debug, PartialEq, Eq)]
pub struct Serve {
    pub settings: String,
    pub port: u16,
}

/// `python manage.py ARGS` in the dev container, as `test` composes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Manage {
    pub settings: String,
    /// Throw-away data, as `test`'s, rather than the data `serve` keeps.
    pub fresh: bool,
    pub args: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Clean {
    /// The pip cache and the data `serve` kept too.
    pub all: bool,
    /// Also the data `serve` kept (and that of checkouts that are gone).
    pub data: bool,
    /// Also the shared images (OS, base, dev, services) no container uses.
    pub images: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Bench {
    pub rounds: usize,
    /// One part alone (`--only loop|release`), or all of them.
    pub only: Option<BenchPart>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Doctor;

#[derive(Debug, PartialEq, Eq)]
pub struct Build;

/// The release image that passed its acceptance tests, pushed to a registry.
#[derive(Debug, PartialEq, Eq)]
pub struct Publish {
    pub registry: String,
    pub repository: String,
    /// Publish even an image that is refused (not accepted, dirty, no version).
    pub force: bool,
}

/// The release image, run as production runs it, checked by the acceptance tests.
#[derive(Debug, PartialEq, Eq)]
pub struct Release {
    pub settings: String,
    /// Leave the environment up, the app published on a loopback port.
    pub keep: bool,
}

/// What `deploy` does: a deploy, or one of its questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployAction {
    Deploy,
    /// Back to the version that ran before (or `--version`'s).
    Rollback,
    Status,
    Logs,
}

/// The published release, deployed as a stack on the swarm the docker endpoint manages.
#[derive(Debug, PartialEq, Eq)]
pub struct Deploy {
    pub action: DeployAction,
    pub replicas: u32,
    /// A published version (a tag), rather than the image `publish` pushed last.
    pub version: Option<String>,
    /// The HTTP port the edge publishes on each node.
    pub port: u16,
    /// The host names the app answers to (Django's ALLOWED_HOSTS).
    pub hosts: String,
    /// `--logs SERVICE`: one service's.
    pub service: Option<String>,
}

/// Removes the deployment: explicit, with a confirmation flag.
#[derive(Debug, PartialEq, Eq)]
pub struct Undeploy {
    pub yes: bool,
}

/// Internal: the watchdog of run `run` (see `session`); not for people.
#[derive(Debug, PartialEq, Eq)]
pub struct Watchdog {
    pub run: String,
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Flags, String> {
    let mut args = args.into_iter().map(utf8).collect::<Result<Vec<_>, _>>()?.into_iter();
    let Some(name) = args.next() else {
        return Err("no task given".into());
    };
    let (mut task, help) = match name.as_str() {
        "-h" | "--help" | "help" => return Ok(Flags::Help(USAGE)),
        "base-image" => (Task::BaseImage(BaseImage), BASE_IMAGE_HELP),
        "dev-image" => (Task::DevImage(DevImage), DEV_IMAGE_HELP),
        "cache" => (Task::Cache(Cache { reset: false }), CACHE_HELP),
        "test" => (
            Task::Test(Test {
                settings: "base".into(),
                baked: false,
                args: Vec::new(),
            }),
            TEST_HELP,
        ),
        "serve" => (
            Task::Serve(Serve {
                settings: "base".into(),
                port: 8000,
            }),
            SERVE_HELP,
        ),
        "manage" => (
            Task::Manage(Manage {
                settings: "base".into(),
                fresh: false,
                args: Vec::new(),
            }),
            MANAGE_HELP,
        ),
        "clean" => (
            Task::Clean(Clean {
                all: false,
                data: false,
                images: false,
            }),
            CLEAN_HELP,
        ),
        "__watchdog" => {
            let run = args.next().ok_or("`__watchdog` needs a run name")?;
            return Ok(Flags::Run(Invocation {
                task: Task::Watchdog(Watchdog { run }),
                dry_run: false,
            }));
        }
        "bench" => (Task::Bench(Bench { rounds: 3, only: None }), BENCH_HELP),
        "doctor" => (Task::Doctor(Doctor), DOCTOR_HELP),
        "build" => (Task::Build(Build), BUILD_HELP),
        "publish" => (
            Task::Publish(Publish {
                registry: String::new(),
                repository: "todobackend".into(),
                force: false,
            }),
            PUBLISH_HELP,
        ),
        "release" => (
            Task::Release(Release {
                settings: "release".into(),
                keep: false,
            }),
            RELEASE_HELP,
        ),
        "deploy" => (
            Task::Deploy(Deploy {
                action: DeployAction::Deploy,
                replicas: 3,
                version: None,
                port: 8080,
                hosts: "*".into(),
                service: None,
            }),
            DEPLOY_HELP,
        ),
        "undeploy" => (Task::Undeploy(Undeploy { yes: false }), UNDEPLOY_HELP),
        other => return Err(format!("unknown task `{other}`")),
    };
    let mut dry_run = false;
    while let Some(arg) = args.next() {
        match (&mut task, arg.as_str()) {
            (_, "-h" | "--help") => return Ok(Flags::Help(help)),
            (_, "--dry-run") => dry_run = true,
            (Task::Cache(Cache { reset }), "--reset") => *reset = true,
            (Task::Clean(Clean { all, .. }), "--all") => *all = true,
            (Task::Clean(Clean { images, .. }), "--images") => *images = true,
            (Task::Clean(Clean { data, .. }), "--data") => *data = true,
            (Task::Bench(Bench { only, .. }), "--only") => match args.next().as_deref() {
                Some("loop") => *only = Some(BenchPart::Loop),
                Some("release") => *only = Some(BenchPart::Release),
                Some("deploy") => *only = Some(BenchPart::Deploy),
                _ => return Err("`--only` takes `loop`, `release` or `deploy`".into()),
            },
            (Task::Bench(Bench { rounds, .. }), "--rounds") => {
                *rounds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("`--rounds` needs a number of rounds, 1 or more")?;
            }
            (Task::Serve(Serve { port, .. }), "--port") => {
                *port = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("`--port` needs a port number, 1 to 65535")?;
            }
            (
                Task::Test(Test { settings, .. })
                | Task::Manage(Manage { settings, .. })
                | Task::Serve(Serve { settings, .. }),
                "--settings",
            ) => {
                *settings = args
                    .next()
                    .filter(|value| !value.starts_with('-'))
                    .ok_or("`--settings` needs a NAME")?;
            }
            (
                Task::Test(Test { settings, .. })
                | Task::Manage(Manage { settings, .. })
                | Task::Serve(Serve { settings, .. }),
                flag,
            ) if flag.starts_with("--settings=") => {
                *settings = flag["--settings=".len()..].to_string();
            }
            (Task::Test(Test { baked, .. }), "--baked") => *baked = true,
            (Task::Manage(Manage { fresh, .. }), "--fresh") => *fresh = true,
            (Task::Release(Release { keep, .. }), "--keep") => *keep = true,
            (Task::Publish(Publish { force, .. }), "--force") => *force = true,
            (Task::Undeploy(Undeploy { yes }), "--yes") => *yes = true,
            (Task::Deploy(deploy), flag) if flag.starts_with("--") => deploy_flag(deploy, flag, &mut args)?,
            (
                Task::Deploy(Deploy {
                    action: DeployAction::Logs,
                    service: service @ None,
                    ..
                }),
                name,
            ) if ["app", "db", "edge"].contains(&name) => {
                *service = Some(name.into());
            }
            (Task::Publish(Publish { registry, .. }), "--registry") => {
                *registry = args
                    .next()
                    .filter(|value| is_registry(value))
                    .ok_or("`--registry` needs HOST or HOST:PORT, without a scheme or a path")?;
            }
            (Task::Publish(Publish { repository, .. }), "--repository") => {
                *repository = args
                    .next()
                    .filter(|value| is_repository(value))
                    .ok_or("`--repository` needs a NAME of lower-case letters, digits, `.`, `_`, `-` and `/`")?;
            }
            (Task::Release(Release { settings, .. }), "--settings") => {
                *settings = args
                    .next()
                    .filter(|value| !value.starts_with('-'))
                    .ok_or("`--settings` needs a NAME")?;
            }
            (Task::Test(Test { args: task_args, .. }) | Task::Manage(Manage { args: task_args, .. }), "--") => {
                task_args.extend(args.by_ref());
                // manage.py would take it, and the run would start the other settings' services.
                if let Some(settings) = task_args.iter().find(|arg| arg.starts_with("--settings")) {
                    return Err(format!(
                        "`{settings}` after `--` would reach manage.py, and the run would start the services of \
                         other settings: give it before `--`, as in `cargo xtask {name} --settings NAME -- ARGS`"
                    ));
                }
            }
            (Task::Manage(Manage { .. }), other) => {
                return Err(format!(
                    "unexpected argument `{other}` for `manage`: the command for manage.py goes after `--`, \
                     as in `cargo xtask manage -- migrate`"
                ));
            }
            (Task::Test(Test { .. }), other) => {
                return Err(format!(
                    "unexpected argument `{other}` for `test` (arguments for manage.py go after `--`)"
                ));
            }
            (_, other) => return Err(format!("unexpected argument `{other}` for `{name}`")),
        }
    }
    if let Task::Manage(Manage { args, .. }) = &task
        && args.is_empty()
    {
        return Err("`manage` needs a manage.py command after `--`, as in `cargo xtask manage -- migrate`".into());
    }
    if let Task::Publish(Publish { registry, .. }) = &task
        && registry.is_empty()
    {
        return Err("`publish` needs `--registry HOST[:PORT]`".into());
    }
    if let Task::Deploy(Deploy {
        action,
        service: Some(_),
        ..
    }) = &task
        && *action != DeployAction::Logs
    {
        return Err("a SERVICE is for `--logs SERVICE` only".into());
    }
    Ok(Flags::Run(Invocation { task, dry_run }))
}

/// One of `deploy`'s options.
fn deploy_flag(deploy: &mut Deploy, flag: &str, args: &mut impl Iterator<Item = String>) -> Result<(), String> {
    let mut action = |action: DeployAction| {
        if deploy.action != DeployAction::Deploy {
            return Err("give one of `--rollback`, `--status` and `--logs`".to_string());
        }
        deploy.action = action;
        Ok(())
    };
    match flag {
        "--rollback" => action(DeployAction::Rollback)?,
        "--status" => action(DeployAction::Status)?,
        "--logs" => action(DeployAction::Logs)?,
        "--replicas" => {
            deploy.replicas = args
                .next()
                .and_then(|value| value.parse().ok())
                .filter(|&n| (1..=20).contains(&n))
                .ok_or("`--replicas` needs a number from 1 to 20 (the edge knows 20 tasks at most)")?;
        }
        "--port" => {
            deploy.port = args
                .next()
                .and_then(|value| value.parse().ok())
                .filter(|&n| n > 0)
                .ok_or("`--port` needs a port number, 1 to 65535")?;
        }
        "--version" => {
            deploy.version = Some(
                args.next()
                    .filter(|value| {
                        !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    })
                    .ok_or("`--version` needs a published tag (letters, digits, `_`, `.`, `-`), e.g. v1.2.0")?,
            );
        }
        "--hosts" => {
            deploy.hosts = args
                .next()
                .filter(|value| !value.is_empty() && !value.starts_with('-'))
                .ok_or("`--hosts` needs the host names the app answers to, comma-separated")?;
        }
        other => return Err(format!("unexpected argument `{other}` for `deploy`")),
    }
    Ok(())
}

/// `HOST` or `HOST:PORT`, as docker names a registry in an image reference.
fn is_registry(value: &str) -> bool {
    let (host, port) = value.split_once(':').unwrap_or((value, "1"));
    !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        && !port.is_empty()
        && port.chars().all(|c| c.is_ascii_digit())
}

/// A repository path docker accepts.
fn is_repository(value: &str) -> bool {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
    !value.is_empty() && value.chars().all(valid) && !value.starts_with(['.', '_', '-', '/'])
}

fn utf8(arg: OsString) -> Result<String, String> {
    arg.into_string()
        .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))
}

#[cfg(test)]
mod tests;
