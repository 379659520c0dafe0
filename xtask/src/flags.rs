//! The command line: tasks and their options. Hand-rolled to keep the xtask quick to build.

use std::ffi::OsString;

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
}

#[derive(Debug, PartialEq, Eq)]
pub enum Task {
    BaseImage,
    DevImage,
    Cache {
        reset: bool,
    },
    Test {
        settings: String,
        /// Test the source baked into the image, as CI does, rather than mounting `src/`.
        baked: bool,
        args: Vec<String>,
    },
    /// The API from the dev container on `http://HOST:port/todos`, until Ctrl-C.
    Serve {
        settings: String,
        port: u16,
    },
    /// `python manage.py ARGS` in the dev container, as `test` composes it.
    Manage {
        settings: String,
        args: Vec<String>,
    },
    Clean {
        all: bool,
        /// Also the shared images (OS, base, dev, services) no container uses.
        images: bool,
    },
    Bench {
        rounds: usize,
        /// One part alone (`--only loop|release`), or all of them.
        only: Option<BenchPart>,
    },
    Doctor,
    Build,
    /// The release image that passed its acceptance tests, pushed to a registry.
    Publish {
        registry: String,
        repository: String,
        /// Publish even an image that is refused (not accepted, dirty, no version).
        force: bool,
    },
    /// The release image, run as production runs it, checked by the acceptance tests.
    Release {
        settings: String,
        /// Leave the environment up, the app published on a loopback port.
        keep: bool,
    },
    /// Internal: the watchdog of run `run` (see `session`); not for people.
    Watchdog {
        run: String,
    },
}

pub const USAGE: &str = "\
Usage: cargo xtask <TASK> [OPTIONS]

todobackend's Docker workflow; runs from any directory of the checkout.

Tasks:
  doctor       Check that everything the tasks need is there, and say what to do where not
  base-image   Build the base image todobackend-base, the application's runtime
  dev-image    Build the development image todobackend-dev
  cache        Create the volume container `cache` that keeps pip's cache between runs
  test         Run the Django test suite in a throw-away container
  serve        Serve the API on http://127.0.0.1:8000/todos, reloading on every edit
  manage       Run any manage.py command (migrate, makemigrations, shell...) in the dev container
  build        Build wheels of the application and its dependencies into target/wheels/
  clean        Remove what this checkout's runs left (keeps the pip cache and the images)
  release      Build the release image and run the acceptance tests against it
  publish      Push the release image that passed its acceptance tests to a registry
  bench        Time this flow against the lab's and a native run, and load the release image; check the goals

Options for every task:
  --dry-run    Print the docker commands, in order, and run none of them (state is still read)
  -h, --help   Tell more about a task, with an example

Example:
  cargo xtask test --settings test";

const BASE_IMAGE_HELP: &str = "\
Usage: cargo xtask base-image

Builds todobackend-base from docker/base/Dockerfile: Debian's Python 3 in a virtualenv at
/appenv, what the application's wheels install into. The Debian image under it (and under
every project image) is debian:bookworm-slim when present or pullable; where no registry
answers it is built from Debian packages with mmdebstrap (as root; installed with apt-get
when missing) and imported as todobackend-os:bookworm. The host's CA bundle (SSL_CERT_FILE,
else /etc/ssl/certs/ca-certificates.crt) is trusted inside the image, so pip works behind a
TLS-inspecting proxy. Tests do not need this image: the development image is its sibling,
with the same Python (scripts/install-python.sh) and the build tools.

Example:
  cargo xtask base-image";

const DEV_IMAGE_HELP: &str = "\
Usage: cargo xtask dev-image

Builds todobackend-dev, as the lab does, from the repository root whatever the current
directory, on the Debian image (made first if missing):
  docker build -t todobackend-dev -f docker/dev/Dockerfile --build-arg OS_IMAGE=... .
The image holds Python, the build tools and the test requirements; its label records what it
was made of, so `test` knows when it is current. First, a container of its `tools` stage
makes the requirements' wheels (scripts/wheels.sh), from those kept in the volume
todobackend-wheels when it has them all (no network: a requirement moved to a version used
before needs none), else fetched and kept; the image installs them with `pip --no-index`.

Example:
  cargo xtask dev-image";

const CACHE_HELP: &str = "\
Usage: cargo xtask cache [--reset]

Creates the volume container `cache` (from todobackend-dev, entrypoint `true`) whose /cache
keeps pip's downloads and built wheels between test runs. The data lives in the docker volume
`todobackend-cache` on the engine's host (`docker volume inspect todobackend-cache` shows
where), so it survives the container. If `cache` exists this says so and exits 0.

Options:
  --reset      Remove the container and its volume (the cached data), then create them anew

Example:
  cargo xtask cache --reset";

const TEST_HELP: &str = "\
Usage: cargo xtask test [--settings NAME] [--baked] [-- ARGS...]

Runs `python manage.py test --noinput ARGS...` under coverage, with its JUnit and coverage
XML, in a todobackend-dev container with DJANGO_SETTINGS_MODULE=todobackend.settings.NAME.
Makes the dev image and the pip cache when missing.

On a local engine the checkout's src/ is mounted, so an edit needs no build: the dev image is
rebuilt only when what it is made of changes (Dockerfiles, scripts/, requirements). The suite
then runs in a child forked by the checkout's warm worker, a container kept running between
runs with Python and the third-party modules loaded (never the application's: each run
imports src/ afresh); it is replaced when what it was started from changes, `doctor` lists it
and `clean` removes it. With --baked, under CI=true, or with a remote engine, the dev image is
rebuilt (docker's layer cache keeps that quick) and a container of the run's own tests the
source baked into it.

The services the settings need (declared in Cargo.toml under
[workspace.metadata.todobackend]; `test` needs a MySQL-compatible database) start with fresh
passwords, on a private network of the run's own or the worker's, and are proved ready before
the suite runs. However the run ends (Ctrl-C, SIGTERM, its terminal closed, `| head`, even
SIGKILL: then its watchdog does it) its containers and network are removed. JUnit and coverage
XML are left in target/reports/, whole. Exits with the test run's exit code (130 on Ctrl-C).

Options:
  --settings NAME   A module of src/todobackend/settings/ [default: base]
  --baked           Test the source baked into the image, as CI does

Example:
  cargo xtask test --settings test -- todo.tests.TestCreateTodoItem -v 2";

const SERVE_HELP: &str = "\
Usage: cargo xtask serve [--settings NAME] [--port N]

Serves the API with Django's development server (`manage.py runserver`) from a todobackend-dev
container composed as for `test`: src/ mounted, so the server reloads within a second or two
of an edit; the services the settings need on a private network of the run's own, proved
ready first; the migrations applied first (`migrate --noinput`). Prints the URL once the
server answers: http://127.0.0.1:N/todos (published on this machine's loopback only).

The data entered is kept between runs in volumes of this checkout's: the SQLite file of the
base settings, the database of the test settings (with its passwords). `cargo xtask clean`
removes them. Ctrl-C stops the server and removes everything else the run made. A port in
use is refused before anything starts. On a terminal, a breakpoint() in a view stops in pdb
there. A remote engine cannot see this checkout: it serves the source baked into a fresh
image, published on the engine's host, and says so.

Options:
  --settings NAME   A module of src/todobackend/settings/ [default: base]
  --port N          The port to serve on [default: 8000]

Examples:
  cargo xtask serve
  cargo xtask serve --settings test --port 8080";

const MANAGE_HELP: &str = "\
Usage: cargo xtask manage [--settings NAME] -- ARGS...

Runs `python manage.py ARGS...` in a throw-away todobackend-dev container composed as for
`test`: --volumes-from cache, DJANGO_SETTINGS_MODULE=todobackend.settings.NAME, and the
services those settings need on a private network of the run's own, ready before it starts.
On a local engine the checkout's src/ is mounted, and the container runs as the invoking user
(--user UID:GID, HOME=/tmp), so what the command writes there (a migration of
`makemigrations`) is yours, not root's. A remote engine cannot see this checkout: the command
runs on the source baked into a fresh image, and what it writes stays there.

On a terminal (stdin and stdout) it is interactive (`shell`, `dbshell`, `createsuperuser`:
docker's -i and -t; Ctrl-C goes to the command); without one (CI, a pipe, output redirected)
its stdin is empty, so it never waits for input.
Everything the run made is removed after. Exits with the command's exit code.

Options:
  --settings NAME   A module of src/todobackend/settings/ [default: base]

Examples:
  cargo xtask manage -- makemigrations todo
  cargo xtask manage --settings test -- migrate
  cargo xtask manage -- check --deploy";

const CLEAN_HELP: &str = "\
Usage: cargo xtask clean [--all] [--images]

Removes what this checkout made and no longer uses, and says what: the containers and
networks of its runs that are over (runs in progress, in this checkout or another, are left
alone), its test worker and the worker's network, the data `serve` kept, its dangling build
images, and the scratch files its runs leave in the checkout.
Nothing another checkout made, and nothing todobackend did not make, is touched: what it
removes is found by labels todobackend sets itself (`todobackend.checkout`,
`todobackend.run`), never by labels a container inherits from an image. Running it again
removes nothing.

Options:
  --all        Also remove the pip cache: the container `cache` and its volume
               todobackend-cache (kept while another container uses the volume)
  --images     Also remove the shared images (todobackend-os, -base, -dev and the service
               images built from docker/), except those a container uses, and the
               requirements' wheels every checkout keeps (volume todobackend-wheels)

Example:
  cargo xtask clean --all";

const BUILD_HELP: &str = "\
Usage: cargo xtask build

Rebuilds todobackend-dev with the current source, then runs `pip wheel .` in a throw-away
container of it (--volumes-from cache, so pip's cache is reused): wheels of the application
(src/pyproject.toml) and of all its dependencies land in the image's /wheelhouse, and are
copied to target/wheels/. They install with no index:
  pip install --no-index --find-links target/wheels todobackend

Example:
  cargo xtask build";

const DOCTOR_HELP: &str = "\
Usage: cargo xtask doctor

Checks, one line each, what the tasks need: the docker client, the engine (and which one:
the local socket, DOCKER_HOST or a docker context), free disk space for its data, the OS,
base and development images, the pip cache, the test worker, the data `serve` kept, the CA
bundle trusted for HTTPS inside the images, and the service images of Cargo.toml's [workspace.metadata.todobackend]. Says ok, or
what to do. Runs of this checkout whose owner is gone (the host went down mid-run) are found,
reported and their containers and networks removed. Exits 1 when something blocks `cargo xtask test`; what a task makes by itself
(images, the cache) is not a problem.

Example:
  cargo xtask doctor";

const BENCH_HELP: &str = "\
Usage: cargo xtask bench [--rounds N] [--only loop|release]

Times `cargo xtask test` against two baselines on a copy of the checkout (target/bench/, under
names of its own, todobackend-bench-*, its OS image too): the lab's own flow (its Dockerfiles
and test.sh, kept in xtask/bench/lab/) and the same suite with the same reports run natively on
this host (`coverage run manage.py test` then `coverage xml`, the base settings, in a venv the
bench makes in target/bench-native-venv from the same requirements but mysqlclient, reused
while they are unchanged). In one run: a first run with no images at all (once, whatever N:
it builds the OS image), then N rounds of a cold run with only the OS image left (against the
lab's), the warm edit->test loop and a run with no change (against the lab's and the native
run), `--settings test` warm, the floor (the suite in an already running container), a
requirements change (a version bumped to one pip has cached) and a suite 50 times larger (a
generated module of the test classes of src/*/tests.py under new names), serially and with
`--parallel 2`, against the same native runs; then `--help` and a build of the xtask from a
clean target. Prints the machine's load average, min / median per scenario, the ratios, the
cost per test, and whether each goal is met. Removes what it made (through the copy's own
`cargo xtask clean` first). Takes several minutes a round: the cold runs build everything.

Then the release image (built by `cargo xtask release` on the copy, its acceptance tests
passing): its size beside the base image's; the database up, `docker run` to `/health`
answering 200 and `docker stop` under load, each round; a load test of GET /todos with 10 items by wrk
(Debian's `wrk`) on this host against the container's address, 10 connections for 10 s:
gunicorn in the release image, then `manage.py runserver` in the dev image on the same
database. Prints requests/s, p99 latency, errors, the ratio, and whether each goal is met.
Needs a local engine.

Options:
  --rounds N       Rounds per scenario [default: 3]
  --only loop      Only the warm loop beside the native run, `--settings test` and the floor
                   (on the shared OS image: a minute or so)
  --only release   Only the release image's section

Examples:
  cargo xtask bench --rounds 1
  cargo xtask bench --only loop --rounds 5
  cargo xtask bench --only release";

const RELEASE_HELP: &str = "\
Usage: cargo xtask release [--settings NAME] [--keep]

Builds the wheels (as `build` does), the base image and the release image todobackend-release
(docker/release/: the wheels installed offline on the base image, served by gunicorn as a
user who is not root, versioned from `git describe --tags --always --dirty` in its OCI labels
and its X-Todobackend-Version header). Then, on a private network of the run's own: the
services the settings need (the database, with fresh passwords), the migrations as a one-off
container of the release image, the app, proved healthy on GET /health (it answers once the
database does); then the acceptance tests (acceptance/: every behaviour of the Todo-Backend
spec, the CORS preflight a browser sends, 404 and 400) from a container of their own, over
HTTP, against the app's address on that network. Their JUnit XML lands in
target/reports/acceptance.xml. Everything is removed afterwards, however the run ends.
Exits with the acceptance tests' exit code.

Options:
  --settings NAME   The settings module the app runs with [default: release]
  --keep            Leave the environment up, the app published on a port of the host's
                    loopback, and print its URL; `cargo xtask clean` removes it

Example:
  cargo xtask release --keep";

const PUBLISH_HELP: &str = "\
Usage: cargo xtask publish --registry HOST[:PORT] [--repository NAME] [--force]

Pushes the release image todobackend-release to HOST[:PORT]/NAME under three tags: its
version (from `git describe --tags --always --dirty` when `release` built it), its short
commit, and `latest`; then prints the digest the registry gave it (the last line on stdout,
after docker's own output). The
image is refused, unless --force, when it is not the one whose acceptance tests passed in
the last `cargo xtask release`, when its version is `unknown` or `-dirty`, or when the tree
has uncommitted changes. Publishing the same image again pushes nothing new and prints the
same digest.

Credentials: TODOBACKEND_REGISTRY_USERNAME and TODOBACKEND_REGISTRY_PASSWORD, when both are
set, go to `docker login --password-stdin` (the password never in argv or the output);
otherwise the docker client's existing login is used, if the registry asks for one.

Options:
  --registry HOST[:PORT]   The registry, e.g. registry.example.com or 127.0.0.1:5000
  --repository NAME        The repository in it [default: todobackend]
  --force                  Publish an image that would be refused

Example:
  cargo xtask publish --registry 127.0.0.1:5000";

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Flags, String> {
    let mut args = args.into_iter().map(utf8).collect::<Result<Vec<_>, _>>()?.into_iter();
    let Some(name) = args.next() else {
        return Err("no task given".into());
    };
    let (mut task, help) = match name.as_str() {
        "-h" | "--help" | "help" => return Ok(Flags::Help(USAGE)),
        "base-image" => (Task::BaseImage, BASE_IMAGE_HELP),
        "dev-image" => (Task::DevImage, DEV_IMAGE_HELP),
        "cache" => (Task::Cache { reset: false }, CACHE_HELP),
        "test" => (
            Task::Test {
                settings: "base".into(),
                baked: false,
                args: Vec::new(),
            },
            TEST_HELP,
        ),
        "serve" => (
            Task::Serve {
                settings: "base".into(),
                port: 8000,
            },
            SERVE_HELP,
        ),
        "manage" => (
            Task::Manage {
                settings: "base".into(),
                args: Vec::new(),
            },
            MANAGE_HELP,
        ),
        "clean" => (
            Task::Clean {
                all: false,
                images: false,
            },
            CLEAN_HELP,
        ),
        "__watchdog" => {
            let run = args.next().ok_or("`__watchdog` needs a run name")?;
            return Ok(Flags::Run(Invocation {
                task: Task::Watchdog { run },
                dry_run: false,
            }));
        }
        "bench" => (Task::Bench { rounds: 3, only: None }, BENCH_HELP),
        "doctor" => (Task::Doctor, DOCTOR_HELP),
        "build" => (Task::Build, BUILD_HELP),
        "publish" => (
            Task::Publish {
                registry: String::new(),
                repository: "todobackend".into(),
                force: false,
            },
            PUBLISH_HELP,
        ),
        "release" => (
            Task::Release {
                settings: "release".into(),
                keep: false,
            },
            RELEASE_HELP,
        ),
        other => return Err(format!("unknown task `{other}`")),
    };
    let mut dry_run = false;
    while let Some(arg) = args.next() {
        match (&mut task, arg.as_str()) {
            (_, "-h" | "--help") => return Ok(Flags::Help(help)),
            (_, "--dry-run") => dry_run = true,
            (Task::Cache { reset }, "--reset") => *reset = true,
            (Task::Clean { all, .. }, "--all") => *all = true,
            (Task::Clean { images, .. }, "--images") => *images = true,
            (Task::Bench { only, .. }, "--only") => match args.next().as_deref() {
                Some("loop") => *only = Some(BenchPart::Loop),
                Some("release") => *only = Some(BenchPart::Release),
                _ => return Err("`--only` takes `loop` or `release`".into()),
            },
            (Task::Bench { rounds, .. }, "--rounds") => {
                *rounds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("`--rounds` needs a number of rounds, 1 or more")?;
            }
            (Task::Serve { port, .. }, "--port") => {
                *port = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("`--port` needs a port number, 1 to 65535")?;
            }
            (
                Task::Test { settings, .. } | Task::Manage { settings, .. } | Task::Serve { settings, .. },
                "--settings",
            ) => {
                *settings = args
                    .next()
                    .filter(|value| !value.starts_with('-'))
                    .ok_or("`--settings` needs a NAME")?;
            }
            (Task::Test { settings, .. } | Task::Manage { settings, .. } | Task::Serve { settings, .. }, flag)
                if flag.starts_with("--settings=") =>
            {
                *settings = flag["--settings=".len()..].to_string();
            }
            (Task::Test { baked, .. }, "--baked") => *baked = true,
            (Task::Release { keep, .. }, "--keep") => *keep = true,
            (Task::Publish { force, .. }, "--force") => *force = true,
            (Task::Publish { registry, .. }, "--registry") => {
                *registry = args
                    .next()
                    .filter(|value| is_registry(value))
                    .ok_or("`--registry` needs HOST or HOST:PORT, without a scheme or a path")?;
            }
            (Task::Publish { repository, .. }, "--repository") => {
                *repository = args
                    .next()
                    .filter(|value| is_repository(value))
                    .ok_or("`--repository` needs a NAME of lower-case letters, digits, `.`, `_`, `-` and `/`")?;
            }
            (Task::Release { settings, .. }, "--settings") => {
                *settings = args
                    .next()
                    .filter(|value| !value.starts_with('-'))
                    .ok_or("`--settings` needs a NAME")?;
            }
            (Task::Test { args: task_args, .. } | Task::Manage { args: task_args, .. }, "--") => {
                task_args.extend(args.by_ref());
                // manage.py would take it, and the run would start the other settings' services.
                if let Some(settings) = task_args.iter().find(|arg| arg.starts_with("--settings")) {
                    return Err(format!(
                        "`{settings}` after `--` would reach manage.py, and the run would start the services of \
                         other settings: give it before `--`, as in `cargo xtask {name} --settings NAME -- ARGS`"
                    ));
                }
            }
            (Task::Manage { .. }, other) => {
                return Err(format!(
                    "unexpected argument `{other}` for `manage`: the command for manage.py goes after `--`, \
                     as in `cargo xtask manage -- migrate`"
                ));
            }
            (Task::Test { .. }, other) => {
                return Err(format!(
                    "unexpected argument `{other}` for `test` (arguments for manage.py go after `--`)"
                ));
            }
            (_, other) => return Err(format!("unexpected argument `{other}` for `{name}`")),
        }
    }
    if let Task::Manage { args, .. } = &task
        && args.is_empty()
    {
        return Err("`manage` needs a manage.py command after `--`, as in `cargo xtask manage -- migrate`".into());
    }
    if let Task::Publish { registry, .. } = &task
        && registry.is_empty()
    {
        return Err("`publish` needs `--registry HOST[:PORT]`".into());
    }
    Ok(Flags::Run(Invocation { task, dry_run }))
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
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Flags, String> {
        parse(args.iter().map(OsString::from))
    }

    fn run(task: Task) -> Result<Flags, String> {
        Ok(Flags::Run(Invocation { task, dry_run: false }))
    }

    #[test]
    fn test_defaults_to_the_base_settings() {
        let expected = Task::Test {
            settings: "base".into(),
            baked: false,
            args: vec![],
        };
        assert_eq!(parse_str(&["test"]), run(expected));
    }

    #[test]
    fn test_takes_settings_in_both_spellings_and_passes_on_what_follows_the_separator() {
        let expected = Task::Test {
            settings: "test".into(),
            baked: false,
            args: vec!["todo.tests".into(), "-v".into(), "2".into()],
        };
        assert_eq!(
            parse_str(&["test", "--settings", "test", "--", "todo.tests", "-v", "2"]),
            run(expected)
        );
        let expected = Task::Test {
            settings: "test".into(),
            baked: true,
            args: vec![],
        };
        assert_eq!(parse_str(&["test", "--baked", "--settings=test"]), run(expected));
    }

    #[test]
    fn cache_takes_reset() {
        assert_eq!(parse_str(&["cache"]), run(Task::Cache { reset: false }));
        assert_eq!(parse_str(&["cache", "--reset"]), run(Task::Cache { reset: true }));
    }

    #[test]
    fn every_task_takes_dry_run() {
        let dry = |task| Ok(Flags::Run(Invocation { task, dry_run: true }));
        assert_eq!(
            parse_str(&["clean", "--dry-run", "--all"]),
            dry(Task::Clean {
                all: true,
                images: false
            })
        );
        assert_eq!(
            parse_str(&["bench", "--rounds", "2", "--dry-run"]),
            dry(Task::Bench { rounds: 2, only: None })
        );
        assert_eq!(
            parse_str(&["bench", "--only", "release", "--rounds", "1"]),
            run(Task::Bench {
                rounds: 1,
                only: Some(BenchPart::Release)
            })
        );
        assert_eq!(
            parse_str(&["bench", "--only", "loop"]),
            run(Task::Bench {
                rounds: 3,
                only: Some(BenchPart::Loop)
            })
        );
        assert!(parse_str(&["bench", "--only", "cold"]).is_err());
        let test = Task::Test {
            settings: "base".into(),
            baked: false,
            args: vec!["--dry-run".into()],
        };
        assert_eq!(parse_str(&["test", "--dry-run", "--", "--dry-run"]), dry(test));
    }

    #[test]
    fn clean_takes_all_and_images() {
        assert_eq!(
            parse_str(&["clean", "--images"]),
            run(Task::Clean {
                all: false,
                images: true
            })
        );
        assert_eq!(
            parse_str(&["clean", "--all", "--images"]),
            run(Task::Clean {
                all: true,
                images: true
            })
        );
    }

    #[test]
    fn manage_takes_settings_and_passes_on_everything_after_the_separator() {
        let expected = Task::Manage {
            settings: "test".into(),
            args: vec!["migrate".into(), "-v".into(), "2".into()],
        };
        assert_eq!(
            parse_str(&["manage", "--settings", "test", "--", "migrate", "-v", "2"]),
            run(expected)
        );
        assert!(
            parse_str(&["manage", "--", "shell", "--settings=x"])
                .unwrap_err()
                .contains("after `--`")
        );
        assert_eq!(parse_str(&["manage", "-h"]), Ok(Flags::Help(MANAGE_HELP)));
        for args in [&["manage"][..], &["manage", "--"], &["manage", "--settings", "test"]] {
            assert!(
                parse_str(args).unwrap_err().contains("needs a manage.py command"),
                "{args:?}"
            );
        }
        assert!(
            parse_str(&["manage", "migrate"])
                .unwrap_err()
                .contains("goes after `--`")
        );
    }

    #[test]
    fn release_defaults_to_the_release_settings_and_takes_keep() {
        let release = |settings: &str, keep| Task::Release {
            settings: settings.into(),
            keep,
        };
        assert_eq!(parse_str(&["release"]), run(release("release", false)));
        assert_eq!(
            parse_str(&["release", "--keep", "--settings", "test"]),
            run(release("test", true))
        );
        assert_eq!(parse_str(&["release", "--help"]), Ok(Flags::Help(RELEASE_HELP)));
        assert_eq!(
            parse_str(&["release", "--settings"]),
            Err("`--settings` needs a NAME".into())
        );
    }

    #[test]
    fn publish_needs_a_registry_and_takes_a_repository_and_force() {
        assert_eq!(
            parse_str(&["publish", "--registry", "127.0.0.1:5000"]),
            run(Task::Publish {
                registry: "127.0.0.1:5000".into(),
                repository: "todobackend".into(),
                force: false,
            })
        );
        assert_eq!(
            parse_str(&[
                "publish",
                "--force",
                "--registry",
                "r.example.com",
                "--repository",
                "team/todo"
            ]),
            run(Task::Publish {
                registry: "r.example.com".into(),
                repository: "team/todo".into(),
                force: true,
            })
        );
        assert!(parse_str(&["publish"]).unwrap_err().contains("needs `--registry"));
        for bad in ["http://r.example.com", "r.example.com/x", "r:port", ""] {
            assert!(
                parse_str(&["publish", "--registry", bad])
                    .unwrap_err()
                    .contains("HOST or HOST:PORT"),
                "{bad}"
            );
        }
        assert!(
            parse_str(&["publish", "--registry", "r", "--repository", "Todo"])
                .unwrap_err()
                .contains("lower-case")
        );
    }

    #[test]
    fn serve_takes_settings_and_a_port() {
        let expected = Task::Serve {
            settings: "base".into(),
            port: 8000,
        };
        assert_eq!(parse_str(&["serve"]), run(expected));
        let expected = Task::Serve {
            settings: "test".into(),
            port: 8080,
        };
        assert_eq!(
            parse_str(&["serve", "--port", "8080", "--settings=test"]),
            run(expected)
        );
        for port in ["0", "65536", "http", "-1"] {
            assert_eq!(
                parse_str(&["serve", "--port", port]),
                Err("`--port` needs a port number, 1 to 65535".into())
            );
        }
        assert_eq!(
            parse_str(&["serve", "--", "x"]),
            Err("unexpected argument `--` for `serve`".into())
        );
    }

    #[test]
    fn help_is_given_for_the_tool_and_for_each_task() {
        assert_eq!(parse_str(&["--help"]), Ok(Flags::Help(USAGE)));
        assert_eq!(parse_str(&["help"]), Ok(Flags::Help(USAGE)));
        assert_eq!(parse_str(&["test", "-h"]), Ok(Flags::Help(TEST_HELP)));
        assert_eq!(parse_str(&["dev-image", "--help"]), Ok(Flags::Help(DEV_IMAGE_HELP)));
    }

    #[test]
    fn bad_input_is_refused_with_what_was_wrong() {
        assert_eq!(parse_str(&[]), Err("no task given".into()));
        assert_eq!(parse_str(&["deploy"]), Err("unknown task `deploy`".into()));
        assert_eq!(
            parse_str(&["cache", "--rest"]),
            Err("unexpected argument `--rest` for `cache`".into())
        );
        assert_eq!(
            parse_str(&["test", "--settings"]),
            Err("`--settings` needs a NAME".into())
        );
        assert_eq!(
            parse_str(&["test", "--settings", "--", "x"]),
            Err("`--settings` needs a NAME".into())
        );
        assert!(
            parse_str(&["test", "todo.tests"])
                .unwrap_err()
                .contains("go after `--`")
        );
        for settings in ["--settings", "--settings=test"] {
            let err = parse_str(&["test", "--", "todo", settings]).unwrap_err();
            assert!(err.contains(&format!("`{settings}` after `--`")), "{err}");
        }
        assert_eq!(
            parse_str(&["dev-image", "--reset"]),
            Err("unexpected argument `--reset` for `dev-image`".into())
        );
    }
}
