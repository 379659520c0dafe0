//! The fake `docker` (and `mmdebstrap`) first on PATH: shell scripts that record every call and
//! answer like an engine holding the images a test says, and `FakeDocker`, a directory of the
//! test's own holding them, their log and the copy of the checkout the xtask is pointed at.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::Checkout;

pub const FAKE_DOCKER: &str = r#"#!/bin/sh
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
pub const FAKE_MMDEBSTRAP: &str = r#"#!/bin/sh
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
pub const CHECKOUT_DIR: &str = "Todo Backend.v2_x";

/// What the product makes of it in run names: lower case, a dash for anything but ASCII letters
/// and digits, so that it is a valid part of a container's name.
pub const RUN_PART: &str = "todo-backend-v2-x";

pub const ALL_IMAGES: &str = "debian:bookworm-slim todobackend-base todobackend-dev todobackend-db";

/// A directory holding the fake docker, its log and a copy of the checkout (`CHECKOUT_DIR`),
/// which the xtask is pointed at; all removed when dropped.
pub struct FakeDocker {
    pub dir: PathBuf,
    pub checkout: Checkout,
    env: Vec<(&'static str, String)>,
}

impl FakeDocker {
    pub fn new(name: &str) -> FakeDocker {
        FakeDocker::in_checkout(name, CHECKOUT_DIR)
    }

    /// A fake whose copy of the checkout is in a directory named `checkout`.
    pub fn in_checkout(name: &str, checkout: &str) -> FakeDocker {
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

    pub fn env(mut self, key: &'static str, value: &str) -> FakeDocker {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// The root of the copy of the checkout the xtask works on.
    pub fn root(&self) -> &Path {
        self.checkout.root()
    }

    /// Runs `cargo xtask ARGS` for the copy from `cwd` with the fake first on PATH.
    pub fn xtask(&self, cwd: &Path, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.dir.display(), std::env::var("PATH").unwrap());
        self.xtask_with_path(cwd, args, &path)
    }

    /// Like `xtask`, and the run must succeed.
    pub fn xtask_ok(&self, cwd: &Path, args: &[&str]) -> Output {
        let output = self.xtask(cwd, args);
        assert!(
            output.status.success(),
            "{args:?} from {}: {}",
            cwd.display(),
            stderr(&output)
        );
        output
    }

    pub fn xtask_with_path(&self, cwd: &Path, args: &[&str], path: &str) -> Output {
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

    /// The lines the fake has written so far in `$FAKE_LOG<suffix>` (none where it wrote nothing).
    fn log(&self, suffix: &str) -> Vec<String> {
        let text = fs::read_to_string(self.dir.join(format!("log{suffix}"))).unwrap_or_default();
        text.lines().map(String::from).collect()
    }

    /// The docker invocations so far, as "<cwd>: <args>".
    pub fn calls(&self) -> Vec<String> {
        self.log("")
    }

    /// The arguments of each docker invocation so far, as docker got them.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        let lines = self.log(".argv").into_iter();
        lines
            .map(|line| line.split_terminator('\u{1f}').map(String::from).collect())
            .collect()
    }

    /// What the fake's suites said (`$FAKE_LOG.suite`).
    pub fn suite(&self) -> Vec<String> {
        self.log(".suite")
    }

    pub fn forget_calls(&self) {
        for log in ["log", "log.argv"] {
            let _ = fs::remove_file(self.dir.join(log));
        }
    }

    /// The arguments of the calls that change something on the engine (not the probes).
    pub fn changes(&self) -> Vec<String> {
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

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
