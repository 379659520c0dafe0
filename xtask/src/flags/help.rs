//! What `--help` says: the tool's usage, and each task's text with an example. A task's
//! description lives here only; a test keeps the README's task table in step with `USAGE`.

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
  manage       Run any manage.py command (migrate, createsuperuser, shell...) on serve's data
  build        Build wheels of the application and its dependencies into target/wheels/
  clean        Remove what this checkout's runs left (keeps serve's data, the pip cache and the images)
  release      Build the release image and run the acceptance tests against it
  publish      Push the release image that passed its acceptance tests to a registry
  deploy       Deploy the published release to a Docker Swarm, with no failed request
  undeploy     Remove the deployment from the swarm (--yes); its data and secrets stay
  bench        Time this flow against the lab's and a native run, and load the release image; check the goals

Options for every task:
  --dry-run    Print the docker commands, in order, and run none of them (state is still read)
  -h, --help   Tell more about a task, with an example

Example:
  cargo xtask test --settings test";

pub const BASE_IMAGE_HELP: &str = "\
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

pub const DEV_IMAGE_HELP: &str = "\
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

pub const CACHE_HELP: &str = "\
Usage: cargo xtask cache [--reset]

Creates the volume container `cache` (from todobackend-dev, entrypoint `true`) whose /cache
keeps pip's downloads and built wheels between test runs. The data lives in the docker volume
`todobackend-cache` on the engine's host (`docker volume inspect todobackend-cache` shows
where), so it survives the container. If `cache` exists this says so and exits 0.

Options:
  --reset      Remove the container and its volume (the cached data), then create them anew

Example:
  cargo xtask cache --reset";

pub const TEST_HELP: &str = "\
Usage: cargo xtask test [--settings NAME] [--baked] [-- ARGS...]

Runs `python manage.py test --noinput ARGS...` under coverage, with its JUnit and coverage
XML, in a todobackend-dev container with DJANGO_SETTINGS_MODULE=todobackend.settings.NAME.
Makes the dev image and the pip cache when missing.

On a local engine the checkout's src/ is mounted, so an edit needs no build: the dev image is
rebuilt only when what it is made of changes (Dockerfiles, scripts/, requirements). The suite
then runs in a child forked by the checkout's warm worker, a container kept running between
runs with Python and the third-party modules loaded (never the application's: each run
imports src/ afresh); it is replaced when what it was started from changes, `doctor` lists it
and `clean` removes it. It ends by itself once the checkout is gone (its src/ removed) or after
an hour without a run: `worker_idle_secs = N` under [workspace.metadata.todobackend] in
Cargo.toml sets that time; the next run starts it again. With --baked, under CI=true, or with a remote engine, the dev image is
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

pub const SERVE_HELP: &str = "\
Usage: cargo xtask serve [--settings NAME] [--port N]

Serves the API with Django's development server (`manage.py runserver`) from a todobackend-dev
container composed as for `test`: src/ mounted, so the server reloads within a second or two
of an edit; the services the settings need on a private network of the run's own, proved
ready first; the migrations applied first (`migrate --noinput`). Prints the URL once the
server answers: http://127.0.0.1:N/todos (published on this machine's loopback only).

The data entered is kept between runs in volumes of this checkout's: the SQLite file of the
base settings, the database of the test settings (with its passwords). `cargo xtask manage`
works on the same data; `cargo xtask clean --data` removes it. Ctrl-C stops the server and removes everything else the run made. A port in
use is refused before anything starts. On a terminal, a breakpoint() in a view stops in pdb
there. A remote engine cannot see this checkout: it serves the source baked into a fresh
image, published on the engine's host, and says so.

Options:
  --settings NAME   A module of src/todobackend/settings/ [default: base]
  --port N          The port to serve on [default: 8000]

Examples:
  cargo xtask serve
  cargo xtask serve --settings test --port 8080";

pub const MANAGE_HELP: &str = "\
Usage: cargo xtask manage [--settings NAME] [--fresh] -- ARGS...

Runs `python manage.py ARGS...` in a throw-away todobackend-dev container composed as for
`test`: --volumes-from cache, DJANGO_SETTINGS_MODULE=todobackend.settings.NAME, and the
services those settings need on a private network of the run's own, ready before it starts.

It works on the data `serve` keeps for those settings, as `docker compose run` uses the
database of `up`: the SQLite file's volume (base settings), the database's volume and its
passwords (test settings). While a `cargo xtask serve` of this checkout runs with the same
settings, its database is joined, never started twice: a superuser made here logs in there,
and what was entered there is here. With --fresh, the data is throw-away instead (fresh
services on a tmpfs, SQLite in the container), as `test`'s; nothing kept is touched.
DJANGO_SUPERUSER_* variables (USERNAME, PASSWORD, EMAIL: `createsuperuser --noinput`) reach
the command, by name, never on a command line.
On a local engine the checkout's src/ is mounted, and the container runs as the invoking user
(--user UID:GID, HOME=/tmp), so what the command writes there (a migration of
`makemigrations`) is yours, not root's. A remote engine cannot see this checkout: the command
runs on the source baked into a fresh image, and what it writes stays there.

On a terminal (stdin and stdout) it is interactive (`shell`, `dbshell`, `createsuperuser`:
docker's -i and -t; Ctrl-C goes to the command); without one (CI, a pipe, output redirected)
its stdin is empty, so it never waits for input.
Everything else the run made is removed after. Exits with the command's exit code.

Options:
  --settings NAME   A module of src/todobackend/settings/ [default: base]
  --fresh           Throw-away data rather than the data `serve` keeps

Examples:
  cargo xtask manage -- makemigrations todo
  cargo xtask manage --settings test -- migrate
  DJANGO_SUPERUSER_USERNAME=me DJANGO_SUPERUSER_PASSWORD=... DJANGO_SUPERUSER_EMAIL=me@example.com \
    cargo xtask manage -- createsuperuser --noinput
  cargo xtask manage --fresh -- check --deploy";

pub const CLEAN_HELP: &str = "\
Usage: cargo xtask clean [--data] [--all] [--images]

Removes what this checkout made and no longer uses, and says what: the containers and
networks of its runs that are over (runs in progress, in this checkout or another, are left
alone), its test worker and the worker's network, its dangling build images, and the scratch
files its runs leave in the checkout. What you entered stays, as compose's `down` keeps its
volumes: the data `serve` kept (and `manage` uses) goes only with --data, and clean says
what it kept.
In any checkout, it also removes what checkouts that are gone left on a local engine (a
clone or worktree removed or moved: its test worker, the worker's network, its runs'
containers and networks; with --data, the data `serve` kept for it): those labelled
`todobackend.checkout=PATH` where PATH no longer exists or is no todobackend checkout.
Nothing a checkout that exists made, and nothing todobackend did not make, is touched: what it
removes is found by labels todobackend sets itself (`todobackend.checkout`,
`todobackend.run`), never by labels a container inherits from an image. Running it again
removes nothing.

Options:
  --data       Also remove the data `serve` kept: the SQLite file's volume, the database's
               volume and its passwords (kept while a run in progress uses them), and
               that of checkouts that are gone
  --all        Also remove the pip cache: the container `cache` and its volume
               todobackend-cache (kept while another container uses the volume); and --data
  --images     Also remove the shared images (todobackend-os, -base, -dev and the service
               images built from docker/), except those a container uses, and the
               requirements' wheels every checkout keeps (volume todobackend-wheels)

Examples:
  cargo xtask clean
  cargo xtask clean --data
  cargo xtask clean --all";

pub const BUILD_HELP: &str = "\
Usage: cargo xtask build

Rebuilds todobackend-dev with the current source, then runs `pip wheel .` in a throw-away
container of it (--volumes-from cache, so pip's cache is reused): wheels of the application
(src/pyproject.toml) and of all its dependencies land in the image's /wheelhouse, and are
copied to target/wheels/. They install with no index:
  pip install --no-index --find-links target/wheels todobackend

Example:
  cargo xtask build";

pub const DOCTOR_HELP: &str = "\
Usage: cargo xtask doctor

Checks, one line each, what the tasks need: the docker client, the engine (and which one:
the local socket, DOCKER_HOST or a docker context), free disk space for its data, the OS,
base and development images, the pip cache, the test worker, the data `serve` kept (and
that of checkouts that are gone, which `clean --data` removes), the CA
bundle trusted for HTTPS inside the images, and the service images of Cargo.toml's [workspace.metadata.todobackend]. Says ok, or
what to do. Runs of this checkout whose owner is gone (the host went down mid-run) are found,
reported and their containers and networks removed, as are the workers, containers and
networks of checkouts that are gone (removed or moved). Exits 1 when something blocks `cargo xtask test`; what a task makes by itself
(images, the cache) is not a problem.

Example:
  cargo xtask doctor";

pub const BENCH_HELP: &str = "\
Usage: cargo xtask bench [--rounds N] [--only loop|release|deploy]

Times `cargo xtask test` against two baselines on a copy of the checkout (target/bench/, under
names of its own, todobackend-bench-*, its OS image too): the lab's own flow (its Dockerfiles
and test.sh, kept in xtask/bench/lab/) and the same suite with the same reports run natively on
this host (`coverage run manage.py test` then `coverage xml`, the base settings, in a venv the
bench makes in target/bench-native-venv from the same requirements but mysqlclient, reused
while they are unchanged). In one run: N first runs with no images at all (each builds the
OS image), then N rounds of a cold run with only the OS image left (against the
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

`--only deploy`, on its own (it needs root): a 3-node swarm on this machine (scripts/swarm-lab.sh:
a dockerd per network namespace, a registry on loopback), the copy's release published to it
and deployed with 3 replicas, then under wrk through the manager's edge all along (4
connections, in 2 s windows): a rolling update to a new version (errors, p99 beside the p99
before it, the time to every replica on it), a release whose health fails (errors, deploy's
exit and time, the old version serving on), the database's task restarted, and a worker lost
(the time until its app tasks run elsewhere, errors in the first 5 s and after). Items made
first must be listed after each. Prints the figures and whether each goal is met; removes the
deployment, the swarm and the images it made.

Options:
  --rounds N       Rounds per scenario [default: 3]
  --only loop      Only the warm loop beside the native run, `--settings test` and the floor
                   (on the shared OS image: a minute or so)
  --only release   Only the release image's section
  --only deploy    Only the deploy onto a 3-node swarm on this machine (root; rounds unused)

Examples:
  cargo xtask bench --rounds 1
  cargo xtask bench --only loop --rounds 5
  cargo xtask bench --only release
  sudo -E cargo xtask bench --only deploy";

pub const RELEASE_HELP: &str = "\
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

pub const PUBLISH_HELP: &str = "\
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

pub const DEPLOY_HELP: &str = "\
Usage: cargo xtask deploy [--replicas N] [--version V] [--port P] [--hosts NAMES]
       cargo xtask deploy --rollback [--version V] | --status | --logs [SERVICE]

Deploys the release image that `publish` pushed last (by digest; refused when it is not the
image whose acceptance tests passed) to the Docker Swarm that the docker endpoint manages (the
local engine, DOCKER_HOST, a context, ssh://), as the stack `todobackend`: the app (gunicorn,
N replicas spread over the nodes, healthy once /health answers, updated one at a time, the
new before the old, rolled back by the swarm itself when the new one is not healthy), the
database (MariaDB, on a node labelled once, its data in a volume there), and the edge (HAProxy
on every node, publishing P and sending each request to a healthy app task, retried on
another when one goes away). Before anything changes: the engine must be a manager, no node
down, and every node must pull the image. The secrets (the database's passwords, Django's
key) are made once from random values as swarm secrets and reach the containers as files;
the migrations run as a one-off job before the app is updated: a failed one stops the deploy
with its log, the running version serving on. The stack file is target/deploy/todobackend.yml.
Exits non-zero, naming the task that failed, when the swarm rolled the update back.

Options:
  --replicas N      The app's replicas [default: 3]
  --version V       A published tag (the registry's REPOSITORY:V) instead of the last push
  --port P          The HTTP port on every node [default: 8080]
  --hosts NAMES     The host names the app answers to, comma-separated [default: *]
  --rollback        Back to the version that ran before (or --version V)
  --status          Each service's version, healthy/wanted replicas, each task's node, the last update
  --logs [SERVICE]  The last log lines of each service, or of one: app, db or edge

Example:
  cargo xtask deploy --replicas 3";

pub const UNDEPLOY_HELP: &str = "\
Usage: cargo xtask undeploy --yes

Removes the stack `todobackend` from the swarm: its services and its network. The database's
volume (on its node), the secrets and the node's label stay, so a later deploy finds its data:
`docker volume rm todobackend_db-data` on that node and `docker secret rm` remove them. Nothing
is removed without --yes. `clean` never touches a deployment.

Options:
  --yes     Confirm the removal

Example:
  cargo xtask undeploy --yes";
