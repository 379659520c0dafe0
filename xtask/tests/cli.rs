//! The built xtask run from several directories with a fake `docker` first on PATH that
//! records what it was asked to do: what would run, in what order, from where. Each test runs
//! it on a copy of the checkout of its own, in a directory named `Todo Backend.v2_x` (a space,
//! a dot, capitals, an underscore), so `cargo test` never touches the checkout's `target/` or
//! `src/`, and every task is seen working from such a directory.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::Checkout;

const FAKE_DOCKER: &str = r#"#!/bin/sh
# Records "<cwd>: <args>" in $FAKE_LOG, and the arguments as they came, separated by the unit
# separator, in $FAKE_LOG.argv, each in one write (the xtask asks some questions at once);
# answers like an engine holding $FAKE_IMAGES.
echo "$PWD: $*" >> "$FAKE_LOG"
argv=$(printf '%s\037' "$@")
printf '%s\n' "$argv" >> "$FAKE_LOG.argv"
# The words after "KEY|" in $FAKE_LISTING, one a line.
listed() {
  printf '%s\n' "$FAKE_LISTING" | while IFS='|' read -r key words; do
    [ "$key" = "$1" ] && printf '%s\n' $words
  done
}
# What a listing prints: the words after "KIND FILTERS|" in $FAKE_LISTING, KIND being
# container, network, image or volume and FILTERS the --filter values joined by commas.
listing() {
  kind=$1 filters=""
  while [ $# -gt 0 ]; do [ "$1" = --filter ] && filters="${filters:+$filters,}$2"; shift; done
  listed "$kind $filters"
  exit 0
}
# What `inspect` says of a label of each name it is given: the words after "KIND NAME|" in
# $FAKE_LISTING, nothing for a name not there.
labelled() {
  kind=$1; shift 4
  for name; do listed "$kind $name"; done
  exit 0
}
# The context: the default one, or one of an engine elsewhere where FAKE_ENDPOINT names it.
context=default
[ -z "$FAKE_ENDPOINT" ] || context=elsewhere
case "$1" in
  --version) echo "${FAKE_CLIENT:-Docker version 28.2.2, build fake}" ;;
  version) [ -z "$FAKE_ENGINE_DOWN" ] || { echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1; }
           # Podman's own client knows no context nor components, as Podman 4 says it
           case "$FAKE_CLIENT $3" in podman*Context*|podman*Components*) echo 'Error: template: version:1:9: executing "version" at <.Client.Version>: can'"'"'t evaluate field Client in type *define.Version' >&2; exit 125 ;; esac
           case "$FAKE_CLIENT $3" in podman*) echo 4.3.1 ;; *Client.Context*) echo "28.2.2|fake|$context|20.10.24|Engine;containerd;" ;; *) echo 20.10.24 ;; esac ;;
  context) case "$FAKE_CLIENT" in podman*) echo 'Error: unrecognized command `podman context`' >&2; exit 125 ;; esac
           echo "$context|${FAKE_ENDPOINT:-unix:///var/run/docker.sock}" ;;
  # The buildx plugin, where $FAKE_BUILDX is set: then BuildKit builds
  buildx) [ -n "$FAKE_BUILDX" ] || exit 1; echo "github.com/docker/buildx 0.10.4 fake" ;;
  info) echo /tmp ;;
  image) [ "$2" = ls ] && listing "$@"
         case "$4" in *RootFS*) shift 4; for id; do echo "layers,layer-of-$id"; done; exit 0 ;; esac
         # A line for each image it holds, in the order asked, and 1 when one is missing.
         # Only the dev image has a fingerprint (todobackend.inputs), and the record of the
         # tools it was built on where $FAKE_TOOLS_LABEL gives it (todobackend.tools).
         format=$4 missing=0; shift 4
         for image; do
           case " $FAKE_IMAGES " in *" $image "*) ;; *) missing=1; continue ;; esac
           case "$format $image" in
             *todobackend.inputs*-dev|*todobackend.image*) echo "sha256:$image ${FAKE_DEV_LABEL:-dev}" ;;
             *todobackend.tools*-dev) echo "sha256:$image ${FAKE_TOOLS_LABEL:-<no value>}" ;;
             *todobackend.inputs*-db) echo "sha256:$image ${FAKE_DB_LABEL:-<no value>}" ;;
             *Labels*) echo "sha256:$image <no value>" ;;
             *) echo "sha256:$image" ;;
           esac
         done; exit $missing ;;
  build) tag=$(printf '%s\n' "$@" | sed -n '/^-t$/{n;p;}')
         # The image $FAKE_BESIDE builds until the dev image's build has begun, and the dev
         # image's fails unless that one began first: run one after the other, they fail.
         # It fails too, with the end of a build's output, where $FAKE_BESIDE_FAILS is set.
         case "$tag" in
           "${FAKE_BESIDE:-(none)}")
             touch "$FAKE_LOG.beside"
             tries=0
             until grep -q -- ": build -t todobackend-dev " "$FAKE_LOG"; do
               tries=$((tries + 1)); [ "$tries" -lt 1000 ] || exit 1; sleep 0.01
             done
             [ -z "$FAKE_BESIDE_FAILS" ] || { echo "Step 5/15 : RUN apt-get install mariadb-server"; echo "E: Unable to locate package mariadb-server" >&2; exit 100; } ;;
           todobackend-dev) [ -z "$FAKE_BESIDE" ] || [ -e "$FAKE_LOG.beside" ] || { echo "nothing was built beside" >&2; exit 1; } ;;
         esac
         # The first $FAKE_RACES builds of each image find the image they took from the cache
         # gone, as the classic builder says it; every build fails where $FAKE_BUILD_FAILS is set.
         if [ -n "$FAKE_RACES" ]; then
           echo >> "$FAKE_LOG.races-$tag"
           [ "$(wc -l < "$FAKE_LOG.races-$tag")" -gt "$FAKE_RACES" ] || { echo "Step 4/16 : LABEL todobackend.built-in=/x"; echo "failed to get digest sha256:2d17: open /var/lib/docker/image/overlay2/imagedb/content/sha256/2d17: no such file or directory" >&2; exit 1; }
         fi
         [ -z "$FAKE_BUILD_FAILS" ] || { echo "E: Unable to locate package python3.11" >&2; exit 100; }
         while [ $# -gt 0 ]; do [ "$1" = --iidfile ] && echo sha256:built > "$2"; shift; done ;;
  container) [ "$2" = ls ] && listing "$@"
             case "$2 $4" in 'inspect {{index .Config.Labels "todobackend.run"}}') labelled "$@" ;; esac
             # The checkout's test worker runs, started from $FAKE_WORKER, where that is set.
             case "$4" in *todobackend.worker*) [ -n "$FAKE_WORKER" ] || exit 1; echo "true|$FAKE_WORKER"; exit 0 ;; esac
             case "$4" in *Running*) echo true; exit 0 ;; esac
             # A container's address on a network: $FAKE_ADDRESS, where that is set.
             case "$4" in *"index .NetworkSettings.Networks"*) [ -n "$FAKE_ADDRESS" ] || exit 1; echo "$FAKE_ADDRESS"; exit 0 ;; esac
             # Another run's cache container shows from the FAKE_CACHE_SHOWS_AFTERth look on.
             if [ -n "$FAKE_CACHE_SHOWS_AFTER" ]; then
               echo >> "$FAKE_LOG.looks"
               [ "$(wc -l < "$FAKE_LOG.looks")" -ge "$FAKE_CACHE_SHOWS_AFTER" ] || exit 1
               echo todobackend-cache; exit 0
             fi
             [ -n "${FAKE_CACHE_VOLUME+set}" ] || exit 1; echo "$FAKE_CACHE_VOLUME" ;;
  create) case " $* " in *" --name cache "*)
            [ -z "$FAKE_CACHE_SHOWS_AFTER" ] || { echo 'Error response from daemon: Conflict. The container name "/cache" is already in use by container "0ab1".' >&2; exit 1; }
            [ -z "$FAKE_CREATE_FAILS" ] || { echo "Error response from daemon: $FAKE_CREATE_FAILS" >&2; exit 1; } ;;
          esac ;;
  network) if [ "$2" = ls ]; then listing "$@"; fi
           case "$2 $4" in 'inspect {{index .Labels "todobackend.run"}}') labelled "$@" ;; esac
           [ "$2" != inspect ] || [ -n "$FAKE_WORKER" ] || exit 1 ;;
  exec) case " $* " in
          *" fork "*)
            # A suite with services waits, as suite.py does, until the run says they are ready
            # (the file is in the run's directory, which the worker sees as /runs); it says
            # in $FAKE_LOG.suite whether it went on
            ready=$(printf '%s\n' "$@" | sed -n 's|^SUITE_SERVICES_READY=/runs/||p')
            if [ -n "$ready" ]; then
              tries=0
              until [ -e "target/xtask/runs/$ready" ]; do
                tries=$((tries + 1)); [ "$tries" -lt 1000 ] || { echo "never ready" >> "$FAKE_LOG.suite"; exit 1; }
                sleep 0.01
              done
              echo "went on once its services were ready" >> "$FAKE_LOG.suite"
            fi
            exit "${FAKE_RUN_EXIT:-0}" ;;
          *" probe "*) exit "${FAKE_PROBE_EXIT:-0}" ;;
        esac ;;
  volume) [ "$2" = ls ] && listing "$@"
          # It holds the pip cache's volume and the kept wheels' where FAKE_CACHE_VOLUME is
          # set, and no other.
          for last; do :; done
          [ "$2" != inspect ] || { [ -n "${FAKE_CACHE_VOLUME+set}" ] && { [ "${last%-cache}" != "$last" ] || [ "$last" = todobackend-wheels ]; }; } || exit 1 ;;
  pull) exit "${FAKE_PULL_EXIT:-1}" ;;
  start) case "$2 $3" in *-wheels) exit 0 ;; esac; exit "${FAKE_RUN_EXIT:-0}" ;;
  run) case " $* " in *" --detach "*) exit 0 ;; esac; exit "${FAKE_RUN_EXIT:-0}" ;;
esac
"#;

/// mmdebstrap as the xtask uses it, without the network or root: records "<cwd>|<TMPDIR>" and
/// its arguments (separated by the unit separator) in $FAKE_LOG.mmdebstrap, makes a tree in
/// $TMPDIR holding what unpacking Debian's packages leaves (documentation, a manual page,
/// apt's package cache), runs the extract and customize hooks on it as mmdebstrap does
/// (`sh -c HOOK exec TREE`), and packs it into the tarball named last, whose listing it
/// leaves in $FAKE_LOG.rootfs. Fails with
/// $FAKE_MMDEBSTRAP_EXIT where that is set.
const FAKE_MMDEBSTRAP: &str = r#"#!/bin/sh
set -e
{ printf '%s|%s\n' "$PWD" "$TMPDIR"; printf '%s\037' "$@"; echo; } >> "$FAKE_LOG.mmdebstrap"
[ -z "$FAKE_MMDEBSTRAP_EXIT" ] || { echo "E: unable to unshare the mount namespace" >&2; exit "$FAKE_MMDEBSTRAP_EXIT"; }
extract="" customize=""
for arg; do
  case "$arg" in
    --extract-hook=*) extract=${arg#--extract-hook=} ;;
    --customize-hook=*) customize=${arg#--customize-hook=} ;;
  esac
  tarball=$arg
done
tree=$(mktemp -d "$TMPDIR/mmdebstrap.XXXXXXXXXX")
mkdir -p "$tree/etc/dpkg/dpkg.cfg.d" "$tree/etc/apt/apt.conf.d" "$tree/usr/share/doc/base-files" \
  "$tree/usr/share/man/man1" "$tree/var/cache/apt"
touch "$tree/usr/share/doc/base-files/README" "$tree/usr/share/man/man1/ls.1.gz" "$tree/var/cache/apt/pkgcache.bin"
sh -c "$extract" exec "$tree"
sh -c "$customize" exec "$tree"
tar -C "$tree" -cf "$tarball" .
tar -tf "$tarball" > "$FAKE_LOG.rootfs"
rm -rf "$tree"
"#;

/// The name of every test's copy of the checkout.
const CHECKOUT_DIR: &str = "Todo Backend.v2_x";
/// What the product makes of it in run names: lower case, a dash for anything but ASCII letters
/// and digits, so that it is a valid part of a container's name.
const RUN_PART: &str = "todo-backend-v2-x";

/// What makes the lab's volume container.
const CACHE_RUN: [&str; 2] = [
    "volume create --label application=todobackend --label todobackend.cache=todobackend-cache todobackend-cache",
    "create --name cache --label application=todobackend --label todobackend.cache=todobackend-cache \
     -v todobackend-cache:/cache --entrypoint true todobackend-dev",
];

const ALL_IMAGES: &str = "debian:bookworm-slim todobackend-base todobackend-dev todobackend-db";

/// A directory holding the fake docker, its log and a copy of the checkout (`CHECKOUT_DIR`),
/// which the xtask is pointed at; all removed when dropped.
struct FakeDocker {
    dir: PathBuf,
    checkout: Checkout,
    env: Vec<(&'static str, String)>,
}

impl FakeDocker {
    fn new(name: &str) -> FakeDocker {
        FakeDocker::in_checkout(name, CHECKOUT_DIR)
    }

    /// A fake whose copy of the checkout is in a directory named `checkout`.
    fn in_checkout(name: &str, checkout: &str) -> FakeDocker {
        let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, script) in [("docker", FAKE_DOCKER), ("mmdebstrap", FAKE_MMDEBSTRAP)] {
            let program = dir.join(name);
            fs::write(&program, script).unwrap();
            fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        }
        // The host's CA bundle, the same on every machine.
        let ca = dir.join("ca.crt");
        fs::write(&ca, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let checkout = Checkout::files_in(&dir.join(checkout));
        FakeDocker {
            dir,
            checkout,
            env: vec![
                ("FAKE_IMAGES", ALL_IMAGES.into()),
                ("SSL_CERT_FILE", ca.display().to_string()),
            ],
        }
    }

    fn env(mut self, key: &'static str, value: &str) -> FakeDocker {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// The root of the copy of the checkout the xtask works on.
    fn root(&self) -> &Path {
        self.checkout.root()
    }

    /// Runs `cargo xtask ARGS` for the copy from `cwd` with the fake first on PATH.
    fn xtask(&self, cwd: &Path, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.dir.display(), std::env::var("PATH").unwrap());
        self.xtask_with_path(cwd, args, &path)
    }

    /// Like `xtask`, and the run must succeed.
    fn xtask_ok(&self, cwd: &Path, args: &[&str]) -> Output {
        let output = self.xtask(cwd, args);
        assert!(
            output.status.success(),
            "{args:?} from {}: {}",
            cwd.display(),
            stderr(&output)
        );
        output
    }

    fn xtask_with_path(&self, cwd: &Path, args: &[&str], path: &str) -> Output {
        self.checkout
            .xtask(args)
            .current_dir(cwd)
            .env("PATH", path)
            .env("FAKE_LOG", self.dir.join("log"))
            .env_remove("CI")
            .env_remove("DOCKER_BUILDKIT")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    /// The docker invocations so far, as "<cwd>: <args>".
    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// The arguments of each docker invocation so far, as docker got them.
    fn argvs(&self) -> Vec<Vec<String>> {
        fs::read_to_string(self.dir.join("log.argv"))
            .unwrap_or_default()
            .lines()
            .map(|line| line.split_terminator('\u{1f}').map(String::from).collect())
            .collect()
    }

    /// What the fake's suites said (`$FAKE_LOG.suite`).
    fn suite(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("log.suite"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn forget_calls(&self) {
        for log in ["log", "log.argv"] {
            let _ = fs::remove_file(self.dir.join(log));
        }
    }

    /// The arguments of the calls that change something on the engine (not the probes).
    fn changes(&self) -> Vec<String> {
        let probes = [
            "version ",
            "--version",
            "buildx version",
            "context ",
            "info ",
            "image inspect ",
            "container inspect ",
            "volume inspect ",
            "network inspect ",
            "exec ",
            "image ls ",
            "container ls ",
            "network ls ",
            "volume ls ",
            "port ",
        ];
        let args = self
            .calls()
            .into_iter()
            .map(|call| call.split_once(": ").unwrap().1.to_string());
        args.filter(|args| !probes.iter().any(|probe| args.starts_with(probe)))
            .collect()
    }
}

impl Drop for FakeDocker {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The words a POSIX shell makes of `line`: what a user who pastes an echoed command runs.
fn shell_words(line: &str) -> Vec<String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("set -- {line}\nprintf '%s\\037' \"$@\""))
        .output()
        .unwrap();
    assert!(output.status.success(), "sh cannot read {line:?}: {}", stderr(&output));
    String::from_utf8(output.stdout)
        .unwrap()
        .split_terminator('\u{1f}')
        .map(String::from)
        .collect()
}

/// The docker commands a run echoed (`$ ...` lines), as a shell reads them: their arguments
/// after `docker`, without the variables set before it.
fn echoed_docker_commands(output: &Output) -> Vec<Vec<String>> {
    stderr(output)
        .lines()
        .filter_map(|line| line.strip_prefix("$ "))
        .map(shell_words)
        .filter_map(|words| {
            let at = words.iter().position(|word| !word.contains('='))?;
            (words[at] == "docker").then(|| words[at + 1..].to_vec())
        })
        .collect()
}

/// `args` with each run's random parts as RUN, IID and INPUTS, so tests can compare them.
fn normalized(args: &str) -> String {
    let run_prefix = format!("todobackend-{RUN_PART}-");
    let words = args.split(' ').map(|word| {
        let hex = |part: &str| part.chars().all(|c| c.is_ascii_hexdigit());
        if word.starts_with("todobackend.inputs=") {
            "todobackend.inputs=INPUTS".to_string()
        } else if let Some((_, tools)) = word
            .strip_prefix("todobackend.tools=")
            .and_then(|label| label.split_once(':'))
        {
            format!("todobackend.tools=INPUTS:{tools}")
        } else if word.starts_with("todobackend.worker=") {
            "todobackend.worker=INPUTS".to_string()
        } else if let Some(at) = word.find(&run_prefix)
            && let Some(part) = word.get(at + run_prefix.len()..at + run_prefix.len() + 9)
            && hex(&part[..8])
            && part.ends_with('-')
        {
            // What the checkout keeps (its worker, its network): named for its path's digest
            let digest = at + run_prefix.len();
            format!("{}CHECKOUT{}", &word[..digest], &word[digest + 8..])
        } else if let Some((head, tail)) = word.rsplit_once('-')
            && head.rsplit('=').next() == Some("db")
            && tail.len() >= 6
            && hex(&tail[..6])
        {
            // The database's name on the worker's network: its run's random part
            format!("{head}-RUN{}", &tail[6..])
        } else if let Some(at) = word.find(&run_prefix) {
            let random = at + run_prefix.len();
            format!("{}RUN{}", &word[..random], &word[random + 6..])
        } else {
            word.to_string()
        }
    });
    words.collect::<Vec<_>>().join(" ")
}

/// The name of a run of a copy (its random part as RUN).
fn run() -> String {
    format!("todobackend-{RUN_PART}-RUN")
}

/// The dev image's build, as a run of the checkout at `root` makes it on `os` where the pip
/// cache's volume exists: its `tools` stage, the requirements' wheels made in a container of
/// it and staged, then the image.
fn dev_build(root: &Path, os: &str) -> Vec<String> {
    let (root, run) = (root.display(), run());
    let common = format!(
        "--build-arg OS_IMAGE={os} --build-arg HOST_CA=docker/base/host-ca/{run}.crt --build-arg BUILT_IN={root}"
    );
    let wheels = format!("{run}-wheels");
    vec![
        format!(
            "build --target tools -t todobackend-tools -f docker/dev/Dockerfile --force-rm {common} \
             --label todobackend.built-in={root} --label todobackend.stage=tools \
             --iidfile {root}/target/xtask/runs/{run}/tools.iid ."
        ),
        format!(
            "create --name {wheels} --label application=todobackend --label todobackend.checkout={root} \
             --label todobackend.run={run} -v todobackend-wheels:/kept \
             sha256:built wheels.sh /tmp/requirements_test.txt /kept /wheels"
        ),
        format!("cp src/requirements.txt {wheels}:/tmp/requirements.txt"),
        format!("cp src/requirements_test.txt {wheels}:/tmp/requirements_test.txt"),
        format!("start --attach {wheels}"),
        format!("cp {wheels}:/wheels/. target/xtask/wheels/{run}"),
        format!("rm --force --volumes {wheels}"),
        format!(
            "build -t todobackend-dev -f docker/dev/Dockerfile --force-rm \
             --build-arg WHEELS=target/xtask/wheels/{run} {common} \
             --label todobackend.inputs=INPUTS --label todobackend.tools=INPUTS:sha256:built \
             --label todobackend.built-in={root} --iidfile {root}/target/xtask/runs/{run}/image.iid ."
        ),
    ]
}

/// Copying `from` out of the run's `role` container into the run's own directory.
fn copy_out(root: &Path, role: &str, from: &str, to: &str) -> String {
    let run = run();
    format!(
        "cp {run}-{role}:{from}/. {}/target/xtask/runs/{run}/{to}",
        root.display()
    )
}

/// The checkout's test worker, as `normalized` names it.
fn worker() -> String {
    format!("todobackend-{RUN_PART}-CHECKOUT-worker")
}

/// The making of the worker's network.
fn worker_network(root: &Path) -> String {
    format!(
        "network create --label application=todobackend --label todobackend.checkout={} \
         --label todobackend.worker=INPUTS todobackend-{RUN_PART}-CHECKOUT-net",
        root.display()
    )
}

/// The start of the worker on the dev image `sha256:built`.
fn worker_run(root: &Path) -> String {
    format!(
        "run --detach --rm --name {worker} --label application=todobackend --label todobackend.checkout={root} \
         --label todobackend.worker=INPUTS --network todobackend-{RUN_PART}-CHECKOUT-net \
         -v {root}/src:/application -v {root}/target/xtask/runs:/runs --volumes-from cache \
         -e PATH=/appenv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -e SUITE_IDLE_SECS=3600 sha256:built suite.py serve",
        worker = worker(),
        root = root.display()
    )
}

/// The test container's `docker create`, then its `docker start`.
fn test_run(root: &Path, extra: &str) -> [String; 2] {
    let run = run();
    let create = format!(
        "create --name {run}-test --label application=todobackend --label todobackend.checkout={root} \
         --label todobackend.run={run} {extra}--volumes-from cache \
         -e DJANGO_SETTINGS_MODULE=todobackend.settings.base sha256:built suite.py run",
        root = root.display()
    );
    [create, format!("start --attach {run}-test")]
}

#[test]
fn a_checkout_whose_path_has_a_colon_tests_the_baked_source_and_says_why() {
    let fake = FakeDocker::in_checkout("colon", "todo:backend").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["test"]);
    assert!(
        stderr(&output).contains("cannot mount a path with a `:`"),
        "{}",
        stderr(&output)
    );
    assert!(
        !fake.changes().iter().any(|args| args.contains(":/application")),
        "{:?}",
        fake.changes()
    );
}

#[test]
fn a_requirements_change_makes_the_wheels_in_the_tools_the_dev_image_was_built_on_while_they_are_the_same() {
    let fake = FakeDocker::new("tools-kept").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["test"]);
    // What the first build recorded, as the engine would show it on the dev image
    let recorded = fake
        .changes()
        .iter()
        .flat_map(|args| args.split(' ').map(String::from).collect::<Vec<_>>())
        .find_map(|word| word.strip_prefix("todobackend.tools=").map(String::from))
        .unwrap();
    assert!(recorded.ends_with(":sha256:built"), "{recorded}");
    let fake = fake
        .env("FAKE_TOOLS_LABEL", &recorded)
        .env("FAKE_IMAGES", &format!("{ALL_IMAGES} sha256:built"));
    fake.checkout.edit("src/requirements.txt", |text| {
        text.replace("sqlparse==0.6.1", "sqlparse==0.6.0")
    });

    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        !changes.iter().any(|args| args.starts_with("build --target tools")),
        "{changes:#?}"
    );
    assert!(
        changes.iter().any(|args| args.starts_with("create ")
            && args.ends_with("sha256:built wheels.sh /tmp/requirements_test.txt /kept /wheels")),
        "{changes:#?}"
    );

    // The tools stage changed (a script it copies): built again
    fake.checkout
        .edit("scripts/wheels.sh", |text| format!("{text}# changed\n"));
    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        changes.iter().any(|args| args.starts_with("build --target tools")),
        "{changes:#?}"
    );
}

#[test]
fn test_mounts_the_source_and_runs_the_suite_from_the_root_whatever_the_directory() {
    for cwd in ["src/todo", "", "/"] {
        let fake = FakeDocker::new("test-cwd").env("FAKE_CACHE_VOLUME", "todobackend-cache");
        let root = fake.root();
        let output = fake.xtask_ok(&root.join(cwd), &["test"]);
        let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
        let expected = [
            dev_build(root, "debian:bookworm-slim"),
            vec![worker_network(root), worker_run(root)],
        ]
        .concat();
        assert_eq!(changes, expected);
        // The suite runs in a child of the worker, its reports written into the run's directory.
        assert_eq!(
            normalized(fake.calls().last().unwrap().split_once(": ").unwrap().1),
            format!(
                "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.base \
                 {worker} python3 -I -S /usr/local/bin/suite.py fork {run}",
                run = run(),
                worker = worker()
            )
        );
        // Not on a terminal (stdin is not one here): neither -i nor -t, so pdb or a
        // `breakpoint()` reads end of file rather than waits.
        assert!(
            !changes
                .iter()
                .any(|args| args.contains("--interactive") || args.contains("--tty")),
            "{changes:#?}"
        );
        // Every docker command runs from the root, so the build context is the root.
        let from_root = format!("{}: ", root.display());
        assert!(
            fake.calls().iter().all(|call| call.starts_with(&from_root)),
            "{:?}",
            fake.calls()
        );
        // Each command is echoed before it runs, as a shell line that gives docker the very
        // arguments it got, paths with spaces included: copy-pastable from the root.
        let echoed = echoed_docker_commands(&output);
        assert!(
            echoed
                .first()
                .is_some_and(|args| args.starts_with(&["build".into(), "--target".into(), "tools".into()])),
            "{}",
            stderr(&output)
        );
        let mut ran = fake.argvs().into_iter();
        for args in &echoed {
            assert!(
                ran.any(|ran| ran == *args),
                "echoed, but docker never got these arguments in this order: {args:?}\ndocker got: {:#?}",
                fake.argvs()
            );
        }
        assert!(
            echoed
                .iter()
                .any(|args| args.contains(&format!("{}/src:/application", root.display()))),
            "{echoed:#?}"
        );
    }
}

#[test]
fn with_the_source_mounted_an_image_with_unchanged_inputs_is_reused() {
    let fake = FakeDocker::new("reuse").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["dev-image"]);
    let built = fake.changes();
    let inputs = built
        .last()
        .unwrap()
        .split(' ')
        .find_map(|word| word.strip_prefix("todobackend.inputs="))
        .unwrap();

    let fake = fake.env("FAKE_DEV_LABEL", inputs);
    let before = fake.calls().len();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        !changes.iter().skip(built.len()).any(|args| args.starts_with("build ")),
        "{changes:?}"
    );
    // Asked with the engine check's questions, whether the image is current is asked once.
    let calls = &fake.calls()[before..];
    let image_state = calls
        .iter()
        .filter(|call| {
            call.contains(" image inspect ")
                && call.contains("todobackend.inputs")
                && call.contains(" todobackend-dev ")
        })
        .count();
    assert_eq!(image_state, 1, "{calls:#?}");
    assert!(
        changes
            .last()
            .unwrap()
            .ends_with(" sha256:todobackend-dev suite.py serve"),
        "{changes:?}"
    );
}

#[test]
fn ci_and_remote_engines_test_the_source_baked_into_a_fresh_build() {
    let remote = FakeDocker::new("remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DEV_LABEL", "whatever")
        .env("FAKE_ENDPOINT", "tcp://build-host:2376");
    let baked = FakeDocker::new("baked").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    for (fake, args) in [(&remote, &["test"][..]), (&baked, &["test", "--baked"])] {
        fake.xtask_ok(fake.root(), args);
        let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
        let built = dev_build(fake.root(), "debian:bookworm-slim").len();
        assert!(
            changes[built - 1].starts_with("build -t todobackend-dev "),
            "{changes:?}"
        );
        assert_eq!(changes[built..built + 2], test_run(fake.root(), ""));
    }
}

#[test]
fn a_baked_run_s_settings_get_a_database_on_a_private_network_and_everything_is_removed_after() {
    // A database image without the fingerprint of what it is made of now (docker/db/ and the
    // OS image) is rebuilt, with it; one with it is used as it is.
    let stale = FakeDocker::new("test-db-stale").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    stale.xtask_ok(stale.root(), &["test", "--baked", "--settings", "test"]);
    let changes = stale.changes();
    let build = changes
        .iter()
        .find(|args| args.starts_with("build -t todobackend-db -f docker/db/Dockerfile "))
        .unwrap_or_else(|| panic!("the stale database image was not rebuilt: {changes:?}"));
    let inputs = build
        .split_whitespace()
        .find_map(|word| word.strip_prefix("todobackend.inputs="))
        .unwrap();

    let fake = FakeDocker::new("test-db")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", inputs)
        .env("FAKE_ADDRESS", "10.89.0.2")
        .env("FAKE_RUN_EXIT", "3");
    let root = fake.root();
    let output = fake.xtask(
        root,
        &["test", "--baked", "--settings", "test", "--", "todo.tests", "-v", "2"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // From the dev image's build on
    let changes = &changes[dev_build(root, "debian:bookworm-slim").len() - 1..];
    let labels = format!(
        "--label application=todobackend --label todobackend.checkout={} --label todobackend.run={run}",
        root.display()
    );
    assert_eq!(changes[1], format!("network create {labels} {run}"));
    assert_eq!(
        changes[2],
        format!(
            "run --detach --name {run}-db {labels} --network {run} --network-alias db --tmpfs /var/lib/mysql \
             -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD -e MYSQL_ROOT_PASSWORD todobackend-db"
        )
    );
    assert!(
        changes[3].starts_with("create ")
            && changes[3].contains(&format!(" --network {run} "))
            // The database by the address it got there, never through the network's DNS.
            && changes[3].contains(" --add-host db:10.89.0.2 ")
            && changes[3].contains(" -e MYSQL_HOST=db -e MYSQL_PORT=3306 -e MYSQL_PASSWORD ")
            // The administrator's password is the database's alone.
            && !changes[3].contains("MYSQL_ROOT_PASSWORD")
            && changes[3].ends_with(" suite.py run todo.tests -v 2"),
        "{}",
        changes[3]
    );
    // Removed newest first, though the suite failed.
    assert_eq!(
        changes[4..],
        [
            format!("start --attach {run}-test"),
            copy_out(root, "test", "/reports", "reports"),
            // The run's containers in one call
            format!("rm --force --volumes {run}-test {run}-db"),
            format!("network rm {run}"),
        ]
    );
    // The database was proved ready with a real query before the suite started.
    let calls = fake.calls().join("\n");
    assert!(
        calls.contains("exec todobackend-") && calls.contains("SELECT 1"),
        "{calls}"
    );
    // Passwords travel in the environment: never on a command line, masked where echoed.
    assert!(!calls.contains("PASSWORD="), "{calls}");
    let err = stderr(&output);
    assert!(
        err.contains("MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach"),
        "{err}"
    );
    assert!(err.contains("MYSQL_PASSWORD=*** docker create"), "{err}");
    assert!(err.contains("exit code 3"), "{err}");
}

/// A mounted run of `test --settings test -- todo.tests` with the fake, whose suite exits 3: the
/// calls that change something but the worker's replacement, normalized, and the run's labels.
fn a_mounted_run_with_the_database(fake: &FakeDocker) -> (Vec<String>, String) {
    let root = fake.root();
    let output = fake.xtask(root, &["test", "--settings", "test", "--", "todo.tests"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run = run();
    let calls: Vec<String> = fake
        .calls()
        .iter()
        .map(|call| normalized(call.split_once(": ").unwrap().1))
        // Less the dev image's build (its wheels' container included) and the questions
        .filter(|args| {
            !args.contains(" inspect ")
                && !args.starts_with("build ")
                && !args.contains("-wheels")
                && !args.contains("version")
        })
        .collect();
    // The worker was started from other inputs than the fake's: retired (renamed, and told to
    // end with the runs it serves), and a new one started on the network it has already.
    let retired = format!("{}-retired-", worker());
    assert!(
        calls[0].starts_with(&format!("rename {} {retired}", worker())),
        "{calls:#?}"
    );
    assert!(
        calls[1].starts_with(&format!("exec {retired}")) && calls[1].ends_with("/suite.py retire"),
        "{calls:#?}"
    );
    assert!(
        calls[2].starts_with(&format!("run --detach --rm --name {} ", worker())),
        "{calls:#?}"
    );
    // It went on once the database proved ready, and not before.
    assert_eq!(fake.suite(), ["went on once its services were ready"]);
    let err = stderr(&output);
    assert!(err.contains("MYSQL_PASSWORD=*** docker exec -e REPORTS_DIR"), "{err}");
    assert!(!fake.calls().join("\n").contains("PASSWORD="), "{:?}", fake.calls());
    let labels = format!(
        "--label application=todobackend --label todobackend.checkout={} --label todobackend.run={run}",
        root.display()
    );
    (calls[3..].to_vec(), labels)
}

#[test]
fn a_mounted_run_s_database_shares_the_worker_s_network_namespace_on_a_port_of_the_run_s_own_and_goes_after() {
    let fake = FakeDocker::new("test-db-worker")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_RUN_EXIT", "3");
    let (calls, labels) = a_mounted_run_with_the_database(&fake);
    let run = run();
    // The suite starts first (the two may reach the engine in either order) and waits; the
    // database meanwhile, in the worker's network namespace, which concurrent runs share, on
    // a port of its run's (told by MYSQL_TCP_PORT), its data on a tmpfs.
    let mut started = calls[..2].to_vec();
    started.sort();
    let port = started[0]
        .split_once(" -e MYSQL_PORT=")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(port, _)| port.to_string())
        .unwrap_or_else(|| panic!("no MYSQL_PORT: {calls:#?}"));
    assert!(
        port.parse::<u16>().is_ok_and(|port| (20000..30000).contains(&port)),
        "{port}"
    );
    let suite = format!(
        "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.test \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_HOST=127.0.0.1 -e MYSQL_PORT={port} \
         -e SUITE_WAIT_FOR=127.0.0.1:{port} -e SUITE_SERVICES_READY=/runs/{run}/services-ready -e MYSQL_PASSWORD {worker} \
         python3 -I -S /usr/local/bin/suite.py fork {run} todo.tests",
        worker = worker()
    );
    let database = format!(
        "run --detach --name {run}-db {labels} --network container:{worker} --tmpfs /var/lib/mysql \
         -e MYSQL_TCP_PORT={port} -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD \
         -e MYSQL_ROOT_PASSWORD todobackend-db",
        worker = worker()
    );
    assert_eq!(started, [suite, database], "{calls:#?}");
    assert!(calls[2].starts_with(&format!("exec {run}-db sh -c ")), "{calls:#?}");
    assert_eq!(calls[3..], [format!("rm --force --volumes {run}-db")]);
}

#[test]
fn a_mounted_run_s_database_that_listens_on_its_port_only_joins_the_worker_s_network_under_a_name_of_the_run_s() {
    let fake = FakeDocker::new("test-db-worker-network")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_RUN_EXIT", "3");
    fake.checkout.edit("Cargo.toml", |manifest| {
        manifest.replace("listen_env = \"MYSQL_TCP_PORT\"\n", "")
    });
    let (calls, labels) = a_mounted_run_with_the_database(&fake);
    let run = run();
    let network = format!("todobackend-{RUN_PART}-CHECKOUT-net");
    let suite = format!(
        "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.test \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_HOST=db-RUN -e MYSQL_PORT=3306 \
         -e SUITE_WAIT_FOR=db-RUN:3306 -e SUITE_SERVICES_READY=/runs/{run}/services-ready -e MYSQL_PASSWORD {worker} \
         python3 -I -S /usr/local/bin/suite.py fork {run} todo.tests",
        worker = worker()
    );
    let database = format!(
        "run --detach --name {run}-db {labels} --network {network} --network-alias db-RUN --tmpfs /var/lib/mysql \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD -e MYSQL_ROOT_PASSWORD todobackend-db"
    );
    let mut started = calls[..2].to_vec();
    started.sort();
    assert_eq!(started, [suite, database], "{calls:#?}");
    assert!(calls[2].starts_with(&format!("exec {run}-db sh -c ")), "{calls:#?}");
    assert_eq!(calls[3..], [format!("rm --force --volumes {run}-db")]);
}

#[test]
fn a_suite_started_while_its_database_starts_is_stopped_when_the_database_never_gets_ready() {
    let fake = FakeDocker::new("test-db-never-ready")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_PROBE_EXIT", "1");
    fake.checkout.edit("Cargo.toml", |manifest| {
        manifest.replace("ready_timeout_secs = 60", "ready_timeout_secs = 1")
    });
    let output = fake.xtask(fake.root(), &["test", "--settings", "test"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("was not ready after 1 s"), "{err}");
    let run = run();
    let calls: Vec<String> = fake
        .calls()
        .iter()
        .map(|call| normalized(call.split_once(": ").unwrap().1))
        .collect();
    // The suite never went on; its child in the worker is stopped, the database removed.
    assert!(fake.suite().is_empty(), "{:?}", fake.suite());
    let stop = format!("exec {} python3 -I -S /usr/local/bin/suite.py stop {run}", worker());
    let removed = format!("rm --force --volumes {run}-db");
    assert!(calls.contains(&stop) && calls.contains(&removed), "{calls:#?}");
}

#[test]
fn clean_removes_what_dead_runs_of_this_checkout_left_and_keeps_the_pip_cache_unless_all() {
    let fake = FakeDocker::new("clean");
    let root = fake.root().display().to_string();
    let listing = [
        // A run of this checkout whose owner is gone, found by the labels it set itself, beside
        // the checkout's worker, which is no run's.
        format!(
            "container label=todobackend.checkout={root}|todobackend-checkout-dead01-db todobackend-checkout-worker"
        ),
        "container todobackend-checkout-dead01-db|todobackend-checkout-dead01".to_string(),
        "container label=todobackend.run=todobackend-checkout-dead01|todobackend-checkout-dead01-db".to_string(),
        "network label=todobackend.run=todobackend-checkout-dead01|todobackend-checkout-dead01".to_string(),
        format!("image dangling=true,label=todobackend.built-in={root}|sha256:2"),
        // (As an engine lists them: the dangling images among the labelled ones.)
        format!("image label=todobackend.built-in={root}|sha256:2"),
        "container volume=todobackend-cache|cache".to_string(),
        "container ancestor=todobackend-dev|cache".to_string(),
    ];
    let fake = fake
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_LISTING", &listing.join("\n"));
    let output = fake.xtask_ok(fake.root(), &["clean"]);
    assert_eq!(
        fake.changes(),
        [
            "rm --force --volumes todobackend-checkout-dead01-db",
            "network rm todobackend-checkout-dead01",
            "rmi sha256:2",
        ]
    );
    let err = stderr(&output);
    assert!(
        err.contains("Run todobackend-checkout-dead01 ended without cleaning up"),
        "{err}"
    );
    assert!(err.contains("Kept the pip cache"), "{err}");
    // Selection is by the labels a run sets, never by the project label images pass on.
    assert!(
        !fake
            .calls()
            .iter()
            .any(|call| call.contains("label=application=todobackend")),
        "{:?}",
        fake.calls()
    );

    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["clean", "--all", "--images"]);
    let changes = fake.changes();
    assert!(
        changes.contains(&"rm --force --volumes cache".to_string()),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"volume rm todobackend-cache".to_string()),
        "{changes:?}"
    );
    // The dev image stays while a container uses it; the others go, never forced.
    assert!(changes.contains(&"rmi todobackend-base".to_string()), "{changes:?}");
    assert!(changes.contains(&"rmi todobackend-db".to_string()), "{changes:?}");
    assert!(
        !changes.iter().any(|args| args.contains("rmi todobackend-dev")),
        "{changes:?}"
    );

    // Another checkout's run uses the pip cache: it stays.
    let busy = FakeDocker::new("clean-busy")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env(
            "FAKE_LISTING",
            "container volume=todobackend-cache|cache todobackend-other-abc123-test",
        );
    let output = busy.xtask_ok(busy.root(), &["clean", "--all"]);
    assert!(busy.changes().is_empty(), "{:?}", busy.changes());
    assert!(
        stderr(&output).contains("in use by todobackend-other-abc123-test"),
        "{}",
        stderr(&output)
    );

    let empty = FakeDocker::new("clean-empty");
    let output = empty.xtask_ok(empty.root(), &["clean"]);
    assert!(empty.changes().is_empty(), "{:?}", empty.changes());
    assert!(
        stderr(&output).contains("Nothing of this checkout's runs is left"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_service_image_to_build_is_built_beside_the_dev_image_and_a_failure_shows_its_output() {
    // The fake's database build lasts until the dev image's build begins, and the dev image's
    // fails unless the database's began first: built one after the other, the run fails.
    let args = ["test", "--baked", "--settings", "test"];
    let beside = FakeDocker::new("beside")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db");
    let output = beside.xtask_ok(beside.root(), &args);
    assert!(
        stderr(&output).contains("\n   the image todobackend-db was built beside the development image\n"),
        "{}",
        stderr(&output)
    );
    let builds: Vec<String> = beside
        .changes()
        .into_iter()
        .filter(|args| args.starts_with("build "))
        .collect();
    assert!(builds[0].starts_with("build -t todobackend-db "), "{builds:#?}");
    assert_eq!(builds.len(), 3, "{builds:#?}");

    let failing = FakeDocker::new("beside-fails")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db")
        .env("FAKE_BESIDE_FAILS", "1");
    let output = failing.xtask(failing.root(), &args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "Building the image todobackend-db beside the development image failed:\n\
             Step 5/15 : RUN apt-get install mariadb-server\nE: Unable to locate package mariadb-server"
        ),
        "{err}"
    );
    // Nothing ran on images that are not all there
    let changes = failing.changes();
    assert!(!changes.iter().any(|args| args.starts_with("run ")), "{changes:#?}");
}

#[test]
fn a_classic_build_whose_cached_image_another_client_removed_runs_again() {
    let builds = |fake: &FakeDocker| -> Vec<String> {
        let changes = fake.changes().into_iter();
        changes.filter(|args| args.starts_with("build ")).collect()
    };
    let again = "   another client of the engine removed an image this build had taken from its cache: \
                 running it again\n";
    let lost = format!(
        "failed to get digest sha256:2d17: open /var/lib/docker/image/overlay2/imagedb/content/sha256/2d17: \
         no such file or directory\n{again}"
    );

    // Each build loses once, the database's beside the dev image's too: each runs again, and
    // what docker said is shown as it said it (but the database's, whose output is kept
    // unless it fails)
    let args = ["test", "--baked", "--settings", "test"];
    let once = FakeDocker::new("race-once")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db")
        .env("FAKE_RACES", "1");
    let output = once.xtask_ok(once.root(), &args);
    let err = stderr(&output);
    assert_eq!(err.matches(again).count(), 3, "{err}");
    assert_eq!(err.matches(&lost).count(), 2, "{err}");
    let built = builds(&once);
    for image in ["todobackend-db", "todobackend-tools", "todobackend-dev"] {
        let of_image = built.iter().filter(|args| args.contains(&format!(" -t {image} ")));
        assert_eq!(of_image.count(), 2, "{image}: {built:#?}");
    }

    // Lost three times in a row: no longer luck, the run fails with docker's message
    let thrice = FakeDocker::new("race-thrice").env("FAKE_RACES", "3");
    let output = thrice.xtask(thrice.root(), &["base-image"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.matches(&lost).count(), 2, "{err}");
    assert_eq!(builds(&thrice).len(), 3, "{err}");

    // Any other failure is the build's own: it runs once
    let fails = FakeDocker::new("race-not").env("FAKE_BUILD_FAILS", "1");
    let output = fails.xtask(fails.root(), &["base-image"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("E: Unable to locate package python3.11\n"), "{err}");
    assert_eq!(builds(&fails).len(), 1, "{err}");

    // BuildKit holds what a build uses: its output stays on the terminal, and nothing runs again
    let buildkit = FakeDocker::new("race-buildkit")
        .env("FAKE_BUILDX", "1")
        .env("FAKE_RACES", "1");
    let output = buildkit.xtask(buildkit.root(), &["base-image"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(builds(&buildkit).len(), 1, "{}", stderr(&output));
}

#[test]
fn dry_run_prints_every_command_in_order_and_runs_none() {
    let fake = FakeDocker::new("dry-run").env("FAKE_IMAGES", "");
    let output = fake.xtask_ok(fake.root(), &["test", "--settings", "test", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let commands: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("$ "))
        .map(|line| line.split(" --").next().unwrap())
        .collect();
    let run = format!("todobackend-{RUN_PART}-");
    let expected_order = [
        "$ docker pull debian:bookworm-slim".to_string(),
        // The database's image, built beside the dev image's
        "$ docker build -t todobackend-db -f docker/db/Dockerfile".into(),
        // (`build --target tools`: cut at its first option)
        "$ docker build".into(),
        "$ docker volume create".into(),
        "$ docker create".into(),
        "$ docker cp src/requirements.txt".into(),
        "$ docker cp src/requirements_test.txt".into(),
        "$ docker start".into(),
        format!("$ docker cp {run}"),
        "$ docker rm".into(),
        "$ docker build -t todobackend-dev -f docker/dev/Dockerfile".into(),
        // A dry run made no volume: the cache container's would be
        "$ docker volume create".into(),
        "$ docker create".into(),
        "$ docker network create".into(),
        "$ docker run".into(),
        // The suite first, which waits until the database proved ready
        "$ MYSQL_PASSWORD=*** docker exec".into(),
        "$ MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run".into(),
        format!("$ docker exec {run}"),
        "$ docker rm".to_string(),
    ];
    assert_eq!(commands.len(), expected_order.len(), "{commands:#?}");
    for (command, expected) in commands.iter().zip(&expected_order) {
        assert!(
            command.starts_with(expected.as_str()),
            "{command} is not {expected}: {commands:#?}"
        );
    }

    for args in [
        &["base-image", "--dry-run"][..],
        &["cache", "--reset", "--dry-run"],
        &["clean", "--all", "--dry-run"],
        &["build", "--dry-run"],
    ] {
        let fake = FakeDocker::new("dry-run-each").env("FAKE_CACHE_VOLUME", "todobackend-cache");
        let output = fake.xtask_ok(fake.root(), args);
        assert!(fake.changes().is_empty(), "{args:?}: {:?}", fake.changes());
        assert!(stderr(&output).contains("\n$ docker "), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn build_leaves_the_wheels_of_a_fresh_image_under_target() {
    let fake = FakeDocker::new("build").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask(&root.join("src"), &["build"]);
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let run = run();
    let built = dev_build(root, "debian:bookworm-slim");
    assert_eq!(changes[..built.len()], built);
    let builder = &changes[built.len()];
    assert!(
        builder.starts_with(&format!("create --name {run}-build "))
            && builder.ends_with(" --volumes-from cache sha256:built pip wheel ."),
        "{changes:?}"
    );
    assert_eq!(
        changes[built.len() + 1..],
        [
            format!("start --attach {run}-build"),
            copy_out(root, "build", "/wheelhouse", "wheels"),
            format!("rm --force --volumes {run}-build"),
        ]
    );
    // The fake copies nothing: the run fails and says so rather than claiming wheels.
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no wheels reached target/wheels/"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn doctor_says_ok_for_each_need_or_what_to_do() {
    let fake = FakeDocker::new("doctor").env("FAKE_IMAGES", "");
    let output = fake.xtask(fake.root(), &["doctor"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    assert!(
        out.lines().count() >= 8 && out.lines().all(|line| line.starts_with("ok ")),
        "{out}"
    );
    assert!(
        out.contains("engine: Docker 20.10.24 at unix:///var/run/docker.sock (from docker context `default`)"),
        "{out}"
    );
    assert!(out.contains("not built yet"), "{out}");

    // A `cache` container the project did not make would stop every test run.
    // The lab's own `cache` keeps its data in a host directory: no volume at /cache.
    let foreign = FakeDocker::new("doctor-foreign").env("FAKE_CACHE_VOLUME", "");
    let output = foreign.xtask(foreign.root(), &["doctor"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  a container named `cache` exists that todobackend did not make"),
        "{out}"
    );

    let down = FakeDocker::new("doctor-down").env("FAKE_ENGINE_DOWN", "1");
    let output = down.xtask(down.root(), &["doctor"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  engine at unix:///var/run/docker.sock") && out.contains("dockerd"),
        "{out}"
    );

    let no_docker = FakeDocker::new("doctor-none");
    let empty = no_docker.dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let output = no_docker.xtask_with_path(no_docker.root(), &["doctor"], empty.to_str().unwrap());
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("FAIL  `docker` was not found on PATH"));
}

#[test]
fn an_unknown_settings_name_is_refused_before_docker_is_asked_anything() {
    let fake = FakeDocker::new("settings");
    let output = fake.xtask(&fake.root().join("src"), &["test", "--settings", "nosuch"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("unknown settings `nosuch`") && err.contains("base, release, test"),
        "{err}"
    );
    assert_eq!(fake.calls(), Vec::<String>::new());
}

#[test]
fn test_makes_the_cache_and_the_dev_image_that_are_missing() {
    let fake = FakeDocker::new("missing").env("FAKE_IMAGES", "debian:bookworm-slim");
    fake.xtask_ok(fake.root(), &["test"]);
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // The dev image is built on the OS image: a test run needs no base image. Its wheels are
    // made with the kept wheels' volume, made first.
    assert_eq!(changes[0], dev_build(fake.root(), "debian:bookworm-slim")[0]);
    assert_eq!(
        changes[1],
        "volume create --label application=todobackend --label todobackend.wheels=kept todobackend-wheels"
    );
    assert!(
        changes[8].starts_with(
            "build -t todobackend-dev -f docker/dev/Dockerfile --force-rm --build-arg WHEELS=target/xtask/wheels/"
        ),
        "{changes:?}"
    );
    assert!(
        !changes.iter().any(|args| args.contains("todobackend-base")),
        "{changes:?}"
    );
    // The fake engine still has no dev image, so the cache would build it once more.
    assert!(
        CACHE_RUN.iter().all(|cache| changes.iter().any(|args| args == cache)),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|args| args.ends_with(" suite.py serve")),
        "{changes:?}"
    );
}

#[test]
fn the_os_image_is_pulled_where_a_registry_answers() {
    let fake = FakeDocker::new("pull")
        .env("FAKE_IMAGES", "")
        .env("FAKE_PULL_EXIT", "0");
    fake.xtask_ok(fake.root(), &["base-image"]);
    assert_eq!(
        fake.changes().iter().map(|args| normalized(args)).collect::<Vec<_>>(),
        [
            "pull debian:bookworm-slim",
            &format!(
                "build -t todobackend-base -f docker/base/Dockerfile --force-rm --build-arg OS_IMAGE=debian:bookworm-slim \
                 --build-arg HOST_CA=docker/base/host-ca/{run}.crt --build-arg BUILT_IN={root} \
                 --label todobackend.built-in={root} --iidfile {root}/target/xtask/runs/{run}/image.iid .",
                root = fake.root().display(),
                run = run()
            ),
        ]
    );
}

#[test]
fn where_no_registry_answers_the_os_image_is_made_from_debian_packages_with_mmdebstrap_then_imported() {
    let fake = FakeDocker::new("from-packages").env("FAKE_IMAGES", "");
    let output = fake.xtask_ok(fake.root(), &["base-image"]);
    let err = stderr(&output);
    assert!(
        err.contains("=> No registry answered: building the OS image todobackend-os:bookworm from Debian packages"),
        "{err}"
    );
    // mmdebstrap: Debian's minimal system, straight into a tarball in the run's scratch
    // directory (outside the checkout, whose path has a space), from the checkout's root,
    // where its hooks find the overlay.
    let log = fs::read_to_string(fake.dir.join("log.mmdebstrap")).unwrap();
    let (whence, argv) = log.split_once('\n').unwrap();
    let (cwd, tmpdir) = whence.split_once('|').unwrap();
    assert_eq!(Path::new(cwd), fake.root());
    let argv: Vec<&str> = argv.trim_end().split_terminator('\u{1f}').collect();
    for arg in ["--variant=minbase", "--mode=unshare", "--format=tar", "bookworm"] {
        assert!(argv.contains(&arg), "{argv:?}");
    }
    let tarball = *argv.last().unwrap();
    assert_eq!(Path::new(tarball), Path::new(tmpdir).join("rootfs.tar"), "{argv:?}");
    let imported = normalized(tarball);
    assert!(!tmpdir.contains(CHECKOUT_DIR), "{tmpdir}");
    assert!(
        err.contains(&format!("\n$ TMPDIR={tmpdir} mmdebstrap --variant=minbase")),
        "{err}"
    );
    // Then imported and built on, and the tarball is gone with the run.
    assert_eq!(
        fake.changes().iter().map(|args| normalized(args)).collect::<Vec<_>>(),
        [
            "pull debian:bookworm-slim".to_string(),
            format!(
                "import --change LABEL application=todobackend --change LABEL todobackend.image=os \
                 --change CMD [\"bash\"] {imported} todobackend-os:bookworm"
            ),
            format!(
                "build -t todobackend-base -f docker/base/Dockerfile --force-rm --build-arg OS_IMAGE=todobackend-os:bookworm \
                 --build-arg HOST_CA=docker/base/host-ca/{run}.crt --build-arg BUILT_IN={root} \
                 --label todobackend.built-in={root} --iidfile {root}/target/xtask/runs/{run}/image.iid .",
                root = fake.root().display(),
                run = run()
            ),
        ]
    );
    assert!(!Path::new(tmpdir).exists(), "{tmpdir} outlived the run");
}

#[test]
fn the_os_image_made_from_packages_has_the_overlay_and_no_documentation_or_package_cache() {
    let fake = FakeDocker::new("from-packages-slim").env("FAKE_IMAGES", "");
    fake.xtask_ok(fake.root(), &["base-image"]);
    // What the tarball the image is imported from holds, once the hooks have run.
    let listing = fs::read_to_string(fake.dir.join("log.rootfs")).unwrap();
    let holds = |path: &str| listing.lines().any(|line| line == format!("./{path}"));
    for present in [
        "etc/dpkg/dpkg.cfg.d/docker",
        "etc/dpkg/dpkg.cfg.d/docker-apt-speedup",
        "etc/apt/apt.conf.d/docker-clean",
        "etc/apt/apt.conf.d/docker-no-languages",
    ] {
        assert!(holds(present), "{present} is missing: {listing}");
    }
    for gone in [
        "usr/share/doc/base-files/README",
        "usr/share/man/man1/ls.1.gz",
        "var/cache/apt/pkgcache.bin",
    ] {
        assert!(!holds(gone), "{gone} is left: {listing}");
    }
}

#[test]
fn an_os_image_that_cannot_be_made_from_packages_says_what_to_do() {
    let fake = FakeDocker::new("from-packages-fails")
        .env("FAKE_IMAGES", "")
        .env("FAKE_MMDEBSTRAP_EXIT", "2");
    let output = fake.xtask(fake.root(), &["base-image"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("E: unable to unshare the mount namespace"), "{err}");
    assert!(
        err.contains("needs root and `mmdebstrap` (`sudo apt-get install mmdebstrap`)")
            && err.contains("make debian:bookworm-slim available to the engine"),
        "{err}"
    );
    assert_eq!(fake.changes(), ["pull debian:bookworm-slim"]);
}

#[test]
fn cache_is_created_once_then_reported() {
    let fake = FakeDocker::new("cache-new");
    fake.xtask_ok(&fake.root().join("src/todo"), &["cache"]);
    assert_eq!(fake.changes(), CACHE_RUN);

    let fake = FakeDocker::new("cache-exists").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["cache"]);
    assert!(stderr(&output).contains("`cache` exists"), "{}", stderr(&output));
    assert_eq!(fake.changes(), Vec::<String>::new());
}

#[test]
fn cache_reset_removes_the_container_and_its_volume_then_recreates_them() {
    let fake = FakeDocker::new("cache-reset").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["cache", "--reset"]);
    assert_eq!(
        fake.changes(),
        [
            "rm --force --volumes cache",
            "volume rm todobackend-cache",
            CACHE_RUN[0],
            CACHE_RUN[1]
        ]
    );
}

#[test]
fn a_cache_container_the_project_did_not_make_is_left_alone() {
    let fake = FakeDocker::new("cache-foreign").env("FAKE_CACHE_VOLUME", "");
    for args in [&["cache"][..], &["cache", "--reset"], &["test"]] {
        let output = fake.xtask(fake.root(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("todobackend did not make"),
            "{}",
            stderr(&output)
        );
    }
    assert!(
        !fake
            .changes()
            .iter()
            // (but the container the build made its wheels in)
            .any(|args| (args.starts_with("rm ") && !args.contains("-wheels"))
                || args.starts_with("volume rm")
                || args.starts_with("run ")),
        "{:?}",
        fake.changes()
    );
}

#[test]
fn a_cache_container_another_run_is_making_is_waited_for_and_any_other_failure_is_said() {
    // The engine refuses the name at once, and shows the other run's container a moment later.
    let race = FakeDocker::new("cache-race").env("FAKE_CACHE_SHOWS_AFTER", "4");
    let output = race.xtask(race.root(), &["cache"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("error:"), "{}", stderr(&output));

    let broken = FakeDocker::new("cache-broken").env("FAKE_CREATE_FAILS", "No such image: todobackend-dev");
    let output = broken.xtask(broken.root(), &["cache"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("No such image: todobackend-dev"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn every_task_says_plainly_when_docker_is_not_installed() {
    let fake = FakeDocker::new("no-docker");
    let empty = fake.dir.join("empty");
    fs::create_dir_all(&empty).unwrap();
    for task in ["base-image", "dev-image", "cache", "test", "clean"] {
        let output = fake.xtask_with_path(fake.root(), &[task], empty.to_str().unwrap());
        assert_eq!(output.status.code(), Some(1), "{task}");
        assert!(
            stderr(&output).starts_with("error: `docker` was not found on PATH"),
            "{task}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn one_call_asks_docker_s_client_its_context_and_engine_and_podman_s_is_asked_again_in_its_terms() {
    let server_facts = |fake: &FakeDocker| -> Vec<String> {
        fake.argvs()
            .into_iter()
            .filter(|args| args.first().is_some_and(|verb| verb == "version"))
            .map(|args| args[2].clone())
            .collect()
    };
    let docker = FakeDocker::new("engine-docker");
    let output = docker.xtask(docker.root(), &["doctor"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("ok    engine: Docker 20.10.24 at unix:///var/run/docker.sock"),
        "{out}"
    );
    assert_eq!(
        server_facts(&docker),
        [
            "{{.Client.Version}}|{{.Client.GitCommit}}|{{.Client.Context}}|{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
        ]
    );
    // One call said it all: the client's version and the default context's endpoint too.
    assert!(
        !docker
            .calls()
            .iter()
            .any(|call| call.ends_with(": --version") || call.contains(": context ")),
        "{:#?}",
        docker.calls()
    );
    assert!(
        out.contains("ok    docker client: Docker version 28.2.2, build fake"),
        "{out}"
    );

    let podman = FakeDocker::new("engine-podman").env("FAKE_CLIENT", "podman version 4.3.1");
    let output = podman.xtask(podman.root(), &["doctor"]);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        out.contains("ok    docker client: podman version 4.3.1")
            && out.contains("ok    engine: Podman 4.3.1 at the local Podman store (from Podman's own client)"),
        "{out}"
    );
    assert_eq!(
        server_facts(&podman),
        [
            "{{.Client.Version}}|{{.Client.GitCommit}}|{{.Client.Context}}|{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}",
            "{{.Server.Version}}"
        ]
    );
}

#[test]
fn every_task_says_how_to_start_an_engine_that_is_not_answering() {
    let fake = FakeDocker::new("engine-down").env("FAKE_ENGINE_DOWN", "1");
    for task in ["base-image", "dev-image", "cache", "test", "clean"] {
        let output = fake.xtask(fake.root(), &[task]);
        assert_eq!(output.status.code(), Some(1), "{task}");
        let err = stderr(&output);
        assert!(
            err.contains("the Docker engine is not answering: Cannot connect"),
            "{task}: {err}"
        );
        assert!(err.contains("dockerd") && err.contains("DOCKER_HOST"), "{task}: {err}");
    }
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
}

#[test]
fn bad_usage_exits_2_with_the_usage_and_help_exits_0() {
    let fake = FakeDocker::new("usage");
    for args in [&[][..], &["deploy"], &["cache", "--force"], &["test", "todo.tests"]] {
        let output = fake.xtask(fake.root(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains("Usage: cargo xtask <TASK>"), "{args:?}");
    }
    let output = fake.xtask(fake.root(), &["test", "--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("--settings NAME"));
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn bench_times_both_flows_with_cold_runs_taking_turns_first() {
    let fake = FakeDocker::new("bench").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(root, &["bench", "--rounds", "2", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let colds: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("=> ") && line.contains(": cold, "))
        .collect();
    assert_eq!(
        colds,
        [
            "=> Round 1 of 2: cold, the lab's flow",
            "=> Round 1 of 2: cold, cargo xtask test",
            "=> Round 2 of 2: cold, cargo xtask test",
            "=> Round 2 of 2: cold, the lab's flow",
        ]
    );
    // What a shell makes of the echoed line that starts with `start`.
    let echoed = |start: &str| -> Vec<String> {
        let line = err
            .lines()
            .find_map(|line| line.strip_prefix("$ ").filter(|line| line.starts_with(start)))
            .unwrap_or_else(|| panic!("no `$ {start}...` line:\n{err}"));
        shell_words(line)
    };
    // The baseline is the lab's own flow, built from the fixture under names of its own, in a
    // copy of the checkout under target/bench.
    let copy = root.join("target/bench").display().to_string();
    let lab = format!("{copy}/target/bench-lab");
    assert_eq!(
        echoed("docker build -t todobackend-bench-lab-dev "),
        [
            "docker",
            "build",
            "-t",
            "todobackend-bench-lab-dev",
            "-f",
            &format!("{lab}/docker/dev/Dockerfile"),
            "--force-rm",
            "--label",
            &format!("todobackend.built-in={copy}"),
            &lab,
        ]
    );
    assert!(
        err.contains("$ docker run --rm --volumes-from todobackend-bench-lab-cache todobackend-bench-lab-dev\n"),
        "{err}"
    );
    // The product's flow runs on the same copy, under the bench's own names, first from
    // nothing: what the copy's runs keep removed by its own `clean`, then its images, its
    // own OS image too.
    assert_eq!(
        echoed("CARGO_MANIFEST_DIR="),
        [
            &format!("CARGO_MANIFEST_DIR={copy}/xtask"),
            env!("CARGO_BIN_EXE_xtask"),
            "clean",
        ]
    );
    let first = &err[err
        .find("=> First run with no images at all")
        .expect("no first run from nothing")..];
    let at = |what: &str| first.find(what).unwrap_or_else(|| panic!("no {what}:\n{first}"));
    assert!(
        at("/xtask clean\n") < at("$ docker rmi todobackend-bench-os:bookworm\n")
            && at("$ docker rmi todobackend-bench-os:bookworm\n") < at("/xtask test\n"),
        "{first}"
    );
    // Each round, from nothing each time: the goal is on a median
    let from_nothing = &first[..at("=> Round 1 of 2: cold")];
    assert_eq!(
        from_nothing
            .matches("$ docker rmi todobackend-bench-os:bookworm\n")
            .count(),
        2,
        "{from_nothing}"
    );
    assert_eq!(from_nothing.matches("/xtask test\n").count(), 2, "{from_nothing}");
    // The native baseline: its script in the copy's src/, in a venv of the bench's own.
    let venv = root.join("target/bench-native-venv").display().to_string();
    assert!(err.contains(&format!(" -m venv '{venv}'\n")), "{err}");
    let native = echoed("PATH=");
    assert_eq!(
        native[native.len() - 5..],
        [
            "env",
            "-C",
            &format!("{copy}/src"),
            "sh",
            &format!("{copy}/target/native/run-tests.sh")
        ]
    );
    // The requirements change, and the suite 50 times larger, serially and with two workers.
    assert!(err.contains("=> Requirements change, sqlparse "), "{err}");
    // Timed from a flushed disk, as the cold runs are: the untimed build before it is not
    // billed to it.
    let round = &first[at("back to 0.6.1 (not timed), then 0.6.0")..];
    assert!(round.contains("/xtask test\n$ sync\n$ CARGO_MANIFEST_DIR="), "{round}");
    assert!(err.contains(" test -- --parallel 2\n"), "{err}");
    assert!(err.contains("/target/native/run-tests.sh' --parallel 2\n"), "{err}");
    assert!(
        err.contains("$ docker rmi todobackend-bench-dev todobackend-bench-tools todobackend-bench-base\n"),
        "{err}"
    );
    // Neither the user's images and pip cache nor the OS image, which every checkout shares.
    assert!(
        !err.contains(" cache\n") && !err.contains("rmi todobackend-dev") && !err.contains("rmi todobackend-os:"),
        "{err}"
    );
    assert!(!root.join("target/bench").exists());
}

#[test]
fn clean_images_removes_the_os_image_only_in_a_checkout_without_a_name_of_its_own() {
    let images = format!(
        "{ALL_IMAGES} todobackend-tools todobackend-os:bookworm todobackend-x-base todobackend-x-dev todobackend-x-tools"
    );
    let fake = FakeDocker::new("clean-os").env("FAKE_IMAGES", &images);
    fake.xtask_ok(fake.root(), &["clean", "--images"]);
    let changes = fake.changes();
    for image in [
        "todobackend-os:bookworm",
        "todobackend-base",
        "todobackend-dev",
        "todobackend-tools",
        "todobackend-db",
    ] {
        assert!(changes.contains(&format!("rmi {image}")), "{image}: {changes:?}");
    }

    let named = FakeDocker::new("clean-os-named").env("FAKE_IMAGES", &images);
    named.checkout.edit("Cargo.toml", |manifest| {
        format!("{manifest}\n[workspace.metadata.todobackend]\nname = \"todobackend-x\"\n")
    });
    named.xtask_ok(named.root(), &["clean", "--images"]);
    let changes = named.changes();
    for image in [
        "todobackend-x-base",
        "todobackend-x-dev",
        "todobackend-x-tools",
        "todobackend-db",
    ] {
        assert!(changes.contains(&format!("rmi {image}")), "{image}: {changes:?}");
    }
    assert!(!changes.iter().any(|args| args.contains("-os:bookworm")), "{changes:?}");

    // One that names an OS image of its own removes that one, never the shared one.
    let own = FakeDocker::new("clean-os-own").env("FAKE_IMAGES", &format!("{images} todobackend-x-os:bookworm"));
    own.checkout.edit("Cargo.toml", |manifest| {
        format!("{manifest}\n[workspace.metadata.todobackend]\nname = \"todobackend-x\"\nos_image = \"todobackend-x-os:bookworm\"\n")
    });
    own.xtask_ok(own.root(), &["clean", "--images"]);
    let changes = own.changes();
    assert!(
        changes.contains(&"rmi todobackend-x-os:bookworm".to_string()),
        "{changes:?}"
    );
    assert!(
        !changes.iter().any(|args| args.contains("todobackend-os:")),
        "{changes:?}"
    );
}

#[test]
fn manage_runs_manage_py_in_the_dev_container_with_src_mounted_and_the_settings_services() {
    let fake = FakeDocker::new("manage")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_RUN_EXIT", "4");
    let root = fake.root();
    let output = fake.xtask(
        &root.join("src/todo"),
        &["manage", "--settings", "test", "--", "makemigrations", "todo"],
    );
    // The command's exit code is the task's.
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let create = changes
        .iter()
        .find(|args| args.starts_with(&format!("create --name {run}-manage ")))
        .unwrap_or_else(|| panic!("no manage container: {changes:#?}"));
    assert!(
        create.contains(&format!(" --network {run} "))
            && create.contains(&format!(" -v {}/src:/application ", root.display()))
            && create.contains(" --volumes-from cache ")
            && create.contains(" -e DJANGO_SETTINGS_MODULE=todobackend.settings.test ")
            && create.contains(" -e MYSQL_HOST=db -e MYSQL_PORT=3306 -e MYSQL_PASSWORD ")
            && create.ends_with(" python manage.py makemigrations todo"),
        "{create}"
    );
    // Not on a terminal (stdin is not one here): neither -i nor -t, so nothing waits for input.
    assert!(
        !create.contains("--interactive") && !create.contains("--tty"),
        "{create}"
    );
    // As root, the container runs as root: the files it writes are the invoking user's.
    assert!(!create.contains("--user"), "{create}");
    // The database was started first; everything is removed after, newest first.
    assert!(
        changes
            .iter()
            .any(|args| args.starts_with(&format!("run --detach --name {run}-db "))),
        "{changes:#?}"
    );
    let at = changes.iter().position(|args| args == create).unwrap();
    assert_eq!(
        changes[at + 1..],
        [
            format!("start --attach {run}-manage"),
            format!("rm --force --volumes {run}-manage {run}-db"),
            format!("network rm {run}"),
        ]
    );
    let err = stderr(&output);
    assert!(
        err.contains("=> Running `manage.py makemigrations todo` with todobackend.settings.test"),
        "{err}"
    );
    assert!(err.contains("failed with exit code 4"), "{err}");
}

#[test]
fn manage_on_a_remote_engine_says_it_runs_on_the_baked_source() {
    let fake = FakeDocker::new("manage-remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_ENDPOINT", "tcp://build-host:2376");
    let output = fake.xtask_ok(fake.root(), &["manage", "--", "check"]);
    assert!(
        stderr(&output).contains("cannot see this checkout: running on the source baked into a fresh image"),
        "{}",
        stderr(&output)
    );
    let changes = fake.changes();
    let built = dev_build(fake.root(), "debian:bookworm-slim").len();
    assert!(
        changes[built - 1].starts_with("build -t todobackend-dev "),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|args| args.contains(":/application") || args.contains("--user")),
        "{changes:?}"
    );
}

#[test]
fn manage_dry_run_prints_the_commands_and_runs_none() {
    let fake = FakeDocker::new("manage-dry-run").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["manage", "--dry-run", "--", "migrate"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let echoed = echoed_docker_commands(&output);
    let starts: Vec<&str> = echoed.iter().map(|args| args[0].as_str()).collect();
    assert_eq!(starts[starts.len() - 3..], ["create", "start", "rm"], "{echoed:#?}");
    assert!(
        echoed
            .iter()
            .any(|args| args.ends_with(&["python".into(), "manage.py".into(), "migrate".into()]))
    );
}

#[test]
fn manage_without_a_command_is_bad_usage() {
    let fake = FakeDocker::new("manage-usage");
    for args in [
        &["manage"][..],
        &["manage", "--"],
        &["manage", "migrate"],
        &["manage", "--settings", "nope", "--", "check"],
    ] {
        let output = fake.xtask(fake.root(), args);
        let err = stderr(&output);
        if args.contains(&"nope") {
            // An unknown settings module is refused before docker is asked anything.
            assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
            continue;
        }
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("Usage: cargo xtask <TASK>") && err.contains("manage.py"),
            "{args:?}: {err}"
        );
    }
    let output = fake.xtask(fake.root(), &["manage", "--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("cargo xtask manage -- makemigrations todo"));
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn the_readmes_task_table_has_a_row_for_each_task_of_the_help_and_no_other() {
    let fake = FakeDocker::new("readme");
    let output = fake.xtask_ok(fake.root(), &["--help"]);
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    let tasks: Vec<String> = help
        .split("Tasks:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(|line| line.split_whitespace().next().unwrap().to_string())
        .collect();
    let readme = fs::read_to_string(support::repository().join("README.md")).unwrap();
    let rows: Vec<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split_once("` | `cargo xtask "))
        .map(|(task, _)| task.to_string())
        .collect();
    let (mut tasks_sorted, mut rows_sorted) = (tasks.clone(), rows.clone());
    tasks_sorted.sort();
    rows_sorted.sort();
    assert_eq!(
        rows_sorted, tasks_sorted,
        "README rows {rows:?}, help's tasks {tasks:?}"
    );
}

#[test]
fn manage_runs_the_container_as_the_invoking_user_when_not_root() {
    let fake = FakeDocker::new("manage-user").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    // An `id` beside the fake docker: the user is 1000, their group 100.
    let id = fake.dir.join("id");
    fs::write(&id, "#!/bin/sh\ncase \"$1\" in -u) echo 1000 ;; -g) echo 100 ;; esac\n").unwrap();
    fs::set_permissions(&id, fs::Permissions::from_mode(0o755)).unwrap();
    fake.xtask_ok(fake.root(), &["manage", "--", "makemigrations", "todo"]);
    let changes = fake.changes();
    let create = changes
        .iter()
        .find(|args| args.starts_with("create --name ") && args.contains("-manage "))
        .unwrap_or_else(|| panic!("{changes:#?}"));
    assert!(
        create.contains(" --user 1000:100 ") && create.contains(" -e HOME=/tmp "),
        "{create}"
    );
}

#[test]
fn release_dry_run_prints_the_whole_release_in_order_from_any_directory_and_runs_none() {
    let fake = FakeDocker::new("release-dry-run").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(&fake.root().join("src"), &["release", "--keep", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let echoed: Vec<String> = err
        .lines()
        .filter_map(|line| line.strip_prefix("$ "))
        .map(normalized)
        .collect();
    let run = run();
    let expected_order = [
        // The database's and the base image, beside the dev image (a dry run: before it)
        "docker build -t todobackend-db -f docker/db/Dockerfile".to_string(),
        "docker build -t todobackend-base -f docker/base/Dockerfile".into(),
        "docker build -t todobackend-dev -f docker/dev/Dockerfile".into(),
        format!("docker create --name {run}-build"),
        format!("docker start --attach {run}-build"),
        format!("docker cp {run}-build:/wheelhouse target/wheels"),
        "docker build -t todobackend-release -f docker/release/Dockerfile --force-rm --build-arg BASE_IMAGE=todobackend-base --build-arg VERSION=unknown".into(),
        "docker network create".to_string(),
        "MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach".into(),
        format!("docker exec {run}-db"),
        format!("DJANGO_SECRET_KEY=*** MYSQL_PASSWORD=*** docker create --name {run}-migrate"),
        format!("docker start --attach {run}-migrate"),
        format!("DJANGO_SECRET_KEY=*** MYSQL_PASSWORD=*** docker run --detach --name {run}-app"),
        format!("docker exec {run}-app"),
        format!("docker create --name {run}-acceptance"),
        format!("docker cp acceptance {run}-acceptance:/acceptance"),
        format!("docker start --attach {run}-acceptance"),
        format!("docker cp {run}-acceptance:/reports/acceptance.xml target/reports/acceptance.xml"),
    ];
    let mut at = 0;
    for expected in &expected_order {
        let found = echoed[at..].iter().position(|line| line.starts_with(expected.as_str()));
        let Some(found) = found else {
            panic!("no `{expected}` after line {at} of {echoed:#?}");
        };
        at += found + 1;
    }
    // Each image built once
    for image in ["todobackend-db", "todobackend-base"] {
        let builds = echoed
            .iter()
            .filter(|line| line.starts_with(&format!("docker build -t {image} ")))
            .count();
        assert_eq!(builds, 1, "{image}: {echoed:#?}");
    }
    let app = echoed
        .iter()
        .find(|line| line.contains(&format!("--name {run}-app")))
        .unwrap();
    // Published on the host's loopback only (--keep), answering to its name on the network.
    assert!(
        app.contains(" -p 127.0.0.1::8000 ") && app.contains(" --network-alias app "),
        "{app}"
    );
    assert!(
        app.contains(" -e DJANGO_SETTINGS_MODULE=todobackend.settings.release "),
        "{app}"
    );
    // The secret key travels by name only (`-e KEY`): its value is in no argv, no output.
    assert!(app.contains(" -e DJANGO_SECRET_KEY "), "{app}");
    assert!(app.starts_with("DJANGO_SECRET_KEY=*** "), "{app}");
}

#[test]
fn release_is_refused_before_docker_is_asked_when_its_acceptance_tests_are_missing() {
    let fake = FakeDocker::new("release-no-tests");
    fs::remove_dir_all(fake.root().join("acceptance")).unwrap();
    let output = fake.xtask(fake.root(), &["release"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("acceptance/test_todo_backend.py is missing"),
        "{}",
        stderr(&output)
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn publish_dry_run_prints_the_tags_and_pushes_and_runs_none_and_an_unaccepted_image_needs_force() {
    let fake = FakeDocker::new("publish-dry-run").env("FAKE_IMAGES", &format!("{ALL_IMAGES} todobackend-release"));
    let refused = fake.xtask(fake.root(), &["publish", "--registry", "127.0.0.1:5000", "--dry-run"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("acceptance tests have not passed") && stderr(&refused).contains("--force"),
        "{}",
        stderr(&refused)
    );

    let output = fake.xtask_ok(
        &fake.root().join("src"),
        &[
            "publish",
            "--registry",
            "127.0.0.1:5000",
            "--repository",
            "team/todo",
            "--force",
            "--dry-run",
        ],
    );
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    // Built without git history, the image's version is `unknown`: tagged so, and latest.
    let echoed: Vec<Vec<String>> = echoed_docker_commands(&output);
    let expected: Vec<Vec<String>> = [
        "tag todobackend-release 127.0.0.1:5000/team/todo:unknown",
        "push 127.0.0.1:5000/team/todo:unknown",
        "tag todobackend-release 127.0.0.1:5000/team/todo:latest",
        "push 127.0.0.1:5000/team/todo:latest",
        "rmi 127.0.0.1:5000/team/todo:latest",
        "rmi 127.0.0.1:5000/team/todo:unknown",
    ]
    .iter()
    .map(|line| line.split(' ').map(String::from).collect())
    .collect();
    assert_eq!(echoed, expected, "{}", stderr(&output));
}

#[test]
fn serve_migrates_then_publishes_the_server_on_the_loopback_with_the_data_in_volumes_of_the_checkout() {
    let fake = FakeDocker::new("serve").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(&root.join("src"), &["serve", "--settings", "test", "--port", "8123"]);
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // The database's volume is the checkout's, not the run's: made, and never removed.
    let volume = changes
        .iter()
        .find_map(|args| args.strip_prefix("volume create "))
        .and_then(|args| args.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no volume made: {changes:#?}"));
    assert!(
        volume.starts_with("todobackend-") && volume.ends_with("-test-db"),
        "{volume}"
    );
    assert!(
        changes
            .iter()
            .any(|args| args.starts_with(&format!("run --detach --name {run}-db "))
                && args.contains(&format!(" -v {volume}:/var/lib/mysql "))),
        "{changes:#?}"
    );
    // Its passwords are kept with it once it is ready, by name: no value on a command line.
    let calls: Vec<String> = fake.calls().iter().map(|call| normalized(call)).collect();
    let remember = calls
        .iter()
        .find(|call| call.contains(&format!(": exec {run}-db sh -c umask")))
        .unwrap_or_else(|| panic!("the passwords are not kept: {calls:#?}"));
    assert!(
        remember.contains(r#"echo MYSQL_PASSWORD="$MYSQL_PASSWORD";"#)
            && remember.contains("/var/lib/mysql/.todobackend-secrets"),
        "{remember}"
    );
    let migrate = changes
        .iter()
        .position(|args| args.starts_with(&format!("create --name {run}-migrate ")));
    let serve = changes
        .iter()
        .position(|args| args.starts_with(&format!("create --name {run}-serve ")));
    let (Some(migrate), Some(serve)) = (migrate, serve) else {
        panic!("no migrate and serve containers: {changes:#?}");
    };
    assert!(migrate < serve && changes[migrate].ends_with(" python manage.py migrate --noinput"));
    let server = &changes[serve];
    assert!(
        server.contains(" -p 127.0.0.1:8123:8000 ")
            && server.contains(&format!(" -v {}/src:/application ", root.display()))
            && server.contains(" -e MYSQL_HOST=db ")
            && server.ends_with(" python manage.py runserver 0.0.0.0:8000"),
        "{server}"
    );
    assert!(
        !changes.iter().any(|args| args.starts_with("volume rm")),
        "{changes:#?}"
    );
    assert!(
        changes.ends_with(&[
            format!("start --attach {run}-serve"),
            format!("rm --force --volumes {run}-serve {run}-migrate {run}-db"),
            format!("network rm {run}"),
        ]),
        "{changes:#?}"
    );
    let err = stderr(&output);
    assert!(
        err.contains("=> Serving todobackend.settings.test on port 8123"),
        "{err}"
    );
}

#[test]
fn serve_on_a_remote_engine_serves_the_baked_source_on_the_engine_s_host() {
    let fake = FakeDocker::new("serve-remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_ENDPOINT", "tcp://build-host.invalid:2376");
    let output = fake.xtask_ok(fake.root(), &["serve"]);
    let err = stderr(&output);
    assert!(
        err.contains("cannot see this checkout: serving the source baked into a fresh image"),
        "{err}"
    );
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let server = changes
        .iter()
        .find(|args| args.contains(" runserver "))
        .unwrap_or_else(|| panic!("{changes:#?}"));
    assert!(
        server.contains(" -p 8000:8000 ") && !server.contains(":/application ") && server.contains(":/data "),
        "{server}"
    );
}

#[test]
fn bench_only_release_starts_the_release_image_each_round_and_loads_it_and_runserver_with_wrk() {
    let fake = FakeDocker::new("bench-release").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(root, &["bench", "--only", "release", "--rounds", "2", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let echoed: Vec<&str> = err.lines().filter_map(|line| line.strip_prefix("$ ")).collect();
    // Neither flow's scenarios: the release section alone.
    assert!(
        !err.contains(": cold, ") && !err.contains("build -t todobackend-bench-lab"),
        "{err}"
    );
    // The release is made, and its acceptance tests run, by the xtask on the bench's copy.
    let copy = root.join("target/bench").display().to_string();
    let release_line = echoed
        .iter()
        .find(|line| line.starts_with("CARGO_MANIFEST_DIR="))
        .unwrap_or_else(|| panic!("no release by the xtask:\n{err}"));
    assert_eq!(
        shell_words(release_line),
        [
            &format!("CARGO_MANIFEST_DIR={copy}/xtask"),
            env!("CARGO_BIN_EXE_xtask"),
            "release"
        ]
    );
    let runs = |image: &str| -> Vec<&str> {
        echoed
            .iter()
            .copied()
            .filter(|line| line.contains("docker run --detach ") && line.contains(&format!(" {image}")))
            .collect()
    };
    let release = runs("todobackend-bench-release");
    assert_eq!(release.len(), 2, "{err}");
    for (round, line) in release.iter().enumerate() {
        assert!(line.contains(&format!("-app-{} ", round + 1)), "{line}");
        assert!(
            line.contains(" -e DJANGO_SETTINGS_MODULE=todobackend.settings.release "),
            "{line}"
        );
        assert!(line.contains(" --network todobackend-bench-bench-"), "{line}");
    }
    let runserver = runs("todobackend-bench-dev");
    assert_eq!(runserver.len(), 1, "{err}");
    assert!(
        runserver[0].ends_with(" todobackend-bench-dev python manage.py runserver --noreload 0.0.0.0:8000"),
        "{}",
        runserver[0]
    );
    // Each round, each server: a warm-up, then the measured load, 10 connections for 10 s;
    // then a load of the release app while it is stopped.
    let loads: Vec<&str> = echoed.iter().copied().filter(|line| line.starts_with("wrk ")).collect();
    let url = "http://CONTAINER_ADDRESS:8000/todos";
    let wrk = |seconds: u32| format!("wrk -c10 -t2 -d{seconds}s --latency -H 'Host: app' {url}");
    let count = |seconds: u32| loads.iter().filter(|line| **line == wrk(seconds)).count();
    assert_eq!(
        (count(2), count(10), count(3), loads.len()),
        (4, 4, 2, 10),
        "{loads:#?}"
    );
    // Each round's release app is stopped, as an orchestrator would, and timed.
    let stops: Vec<&str> = echoed
        .iter()
        .copied()
        .filter(|line| line.starts_with("docker stop "))
        .collect();
    assert_eq!(stops.len(), 2, "{err}");
    assert!(stops.iter().all(|line| line.contains("-app-")), "{stops:?}");
    // The database is migrated and given its items before any server starts; runserver is
    // up before the first round, to be loaded in each.
    let at = |part: &str| {
        echoed
            .iter()
            .position(|line| line.contains(part))
            .unwrap_or_else(|| panic!("no {part}"))
    };
    assert!(
        at("-seed ") < at("-runserver ") && at("-runserver ") < at("-app-1 "),
        "{err}"
    );
    assert!(err.contains("$ docker rmi todobackend-bench-release\n"), "{err}");
    assert!(!root.join("target/bench").exists());
}

#[test]
fn bench_without_wrk_says_so_before_running_any_part() {
    let fake = FakeDocker::new("bench-no-wrk");
    let root = fake.root();
    // The fake docker alone on PATH: no wrk.
    let output = fake.xtask_with_path(root, &["bench", "--rounds", "1"], &fake.dir.display().to_string());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("needs wrk on PATH") && err.contains("apt-get install wrk"),
        "{err}"
    );
    // Nothing was run first: no part's step, no engine change, no copy of the checkout.
    assert!(!err.contains("=> "), "{err}");
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    assert!(!root.join("target/bench").exists());
}

#[test]
fn bench_only_takes_loop_or_release_alone() {
    let fake = FakeDocker::new("bench-only");
    let output = fake.xtask_ok(fake.root(), &["bench", "--only", "loop", "--rounds", "1", "--dry-run"]);
    let err = stderr(&output);
    // The warm loop beside the native run, on the shared OS image: no lab, nothing removed first.
    assert!(
        err.contains("=> Round 1 of 1: warm, after an edit and unchanged"),
        "{err}"
    );
    assert!(err.contains("/target/native/run-tests.sh'\n"), "{err}");
    assert!(
        !err.contains("cold")
            && !err.contains("rmi todobackend-bench-os")
            && !err.contains("build -t todobackend-bench-lab"),
        "{err}"
    );
    let fake = FakeDocker::new("bench-only-lab");
    let output = fake.xtask(fake.root(), &["bench", "--only", "lab", "--dry-run"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("`--only` takes `loop` or `release`"),
        "{}",
        stderr(&output)
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
