#!/usr/bin/env bash
set -euo pipefail
# A real Docker Swarm on this one machine, for the end-to-end tests, the benchmark and anyone who
# wants to try `cargo xtask deploy` on a cluster: N nodes (default 3: one manager, the others
# workers), each a dockerd with its own containerd in its own network namespace on one bridge, and
# a registry that the host engine and every node reach under the same name, 127.0.0.1:PORT.
#
#   scripts/swarm-lab.sh up DIR            build a lab, its state in DIR (new or empty); prints
#                                          the lines below on stdout, and nothing else
#   scripts/swarm-lab.sh env DIR           print them again:
#       DOCKER_HOST=unix:///run/tblab/node1.sock                 (the manager)
#       SWARM_LAB_REGISTRY=127.0.0.1:5000
#       SWARM_LAB_NODES="10.231.0.11 10.231.0.12 10.231.0.13"    (node1 first)
#       SWARM_LAB_SOCKETS="unix:///run/tblab/node1.sock unix://... unix://..."
#   scripts/swarm-lab.sh kill-node DIR N   lose worker N: cut its link, kill -9 its engine
#   scripts/swarm-lab.sh down DIR          remove all that `up DIR` made, DIR too (idempotent)
#
# In a shell: set -a; eval "$(scripts/swarm-lab.sh env DIR)"; set +a; docker node ls
#
# Knobs of `up`: SWARM_LAB_NODES (1 to 9, default 3), SWARM_LAB_PORT (the registry's, default
# 5000), SWARM_LAB_OWNER (a pid: once that process is gone, a detached watcher runs `down DIR`,
# so a test that dies leaves nothing behind).
#
# One lab per machine at a time: the names are fixed (bridge tblab0 on 10.231.0.0/24, netns
# tblab-nN with eth0 at 10.231.0.1N, its veth tblab-vN, cgroups tblab-nN, runtime files under
# /run/tblab, whose `owner` names the lab's DIR). The nodes' hostnames are tblab-node1... (each
# dockerd has its own UTS namespace), usable in placement constraints. Overlay networks take
# their subnets from 10.232.0.0/16. This kernel may lack IPVS: services need
# `endpoint_mode: dnsrr` and ports in `mode: host`. Do not publish the registry's port on a node.
#
# Needs root and iproute2, iptables, util-linux, docker.io (dockerd, containerd, runc, the CLI)
# and docker-registry.

readonly BRIDGE=tblab0
readonly NET=10.231.0
readonly RUNROOT=/run/tblab
readonly OVERLAY_POOL=10.232.0.0/16
# Docker sets FORWARD's policy to DROP, which would drop the nodes' traffic across the bridge.
readonly IPT_RULE=(FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment swarm-lab -j ACCEPT)
SELF=$(realpath -- "${BASH_SOURCE[0]}")
readonly SELF
DIR= # the lab's state directory, absolute

log() { printf 'swarm-lab: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF" >&2
  exit 2
}

ns_of() { echo "tblab-n$1"; }
veth_of() { echo "tblab-v$1"; }
addr_of() { echo "$NET.$((10 + $1))"; }
sock_of() { echo "$RUNROOT/node$1.sock"; }
nodedir_of() { echo "$DIR/node$1"; }

# The recorded pid of NAME if that process still runs and is the lab's: its command line names the
# lab's paths (a pid is reused once its process is long dead). A zombie has none: it counts gone.
live_pid() {
  local f="$RUNROOT/pids/$1.pid" pid cmd
  [[ -r $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ && $pid != "$$" ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$RUNROOT"* || $cmd == *"$DIR"* ]] || return 1
  echo "$pid"
}

# Starts "$@" in the background as the lab's process NAME, logging to LOG.
start_bg() {
  local name=$1 logf=$2
  shift 2
  # setsid: a Ctrl-C meant for the caller does not hit the lab. Stdio off the caller's pipes, or a
  # `$(swarm-lab.sh up DIR)` would wait for the daemons' end; fd 9 (the lab's lock) closed, or the
  # lock would outlive this script. Every program in the chain execs, so $! is the daemon.
  setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo "$!" >"$RUNROOT/pids/$name.pid"
}

# Sends SIGTERM to the lab's recorded processes NAME..., waits at most SECS for them all, then
# SIGKILLs those left.
stop_procs() {
  local secs=$1 name pid pids=() deadline
  shift
  for name in "$@"; do
    pid=$(live_pid "$name") && pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + secs))
  while any_live "$@"; do
    ((SECONDS < deadline)) || break
    sleep 0.2
  done
  for name in "$@"; do
    if pid=$(live_pid "$name"); then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

any_live() {
  local name
  for name in "$@"; do live_pid "$name" >/dev/null && return 0; done
  return 1
}

cgroups_of() { find /sys/fs/cgroup -maxdepth 2 -type d -name "tblab-n$1" 2>/dev/null; }

# The processes of node N but its registry: all in its network namespace (dockerd, containerd,
# the shims, docker-proxy, host-network containers) and in its cgroup (the other containers).
node_pids() {
  local n=$1 reg d
  reg=$(live_pid "registry-$n") || reg=
  {
    ip netns pids "$(ns_of "$n")" 2>/dev/null
    for d in $(cgroups_of "$n"); do
      find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
    done
  } | sort -u | grep -vx -e "$$" -e "${reg:-none}" || true
}

# SIGKILLs node N's processes (see node_pids) until none is left, for at most 10 s.
kill_node_procs() {
  local n=$1 try pids
  for try in $(seq 50); do
    mapfile -t pids < <(node_pids "$n")
    ((${#pids[@]})) || return 0
    kill -KILL "${pids[@]}" 2>/dev/null || true
    ((try == 1)) || sleep 0.2
  done
  log "node $n: processes left after SIGKILL: ${pids[*]}"
  return 1
}

# The mount points at or under the directories given (paths without blanks, as checked).
mounts_under() {
  awk -v dirs="$*" 'BEGIN { n = split(dirs, d, " ") }
    { for (i = 1; i <= n; i++) if ($5 == d[i] || index($5, d[i] "/") == 1) { print $5; next } }' \
    /proc/self/mountinfo
}

# Unmounts what is left under the directories given, deepest first: killed engines leave their
# layers, shm and namespace files mounted. A lazy unmount only when a plain one is refused.
unmount_under() {
  local pass mp mps
  for pass in 1 2 3; do
    mapfile -t mps < <(mounts_under "$@" | sort -ru)
    ((${#mps[@]})) || return 0
    for mp in "${mps[@]}"; do
      umount "$mp" 2>/dev/null || ((pass == 1)) || umount -l "$mp" 2>/dev/null || true
    done
  done
  mapfile -t mps < <(mounts_under "$@")
  ((${#mps[@]} == 0)) || log "still mounted: ${mps[*]}"
  ((${#mps[@]} == 0))
}

lab_nodes() {
  local nodes=9 # when the lab's record is lost, look at every name a lab can have
  [[ -r $RUNROOT/lab ]] && nodes=$(sed -n 's/^NODES=//p' "$RUNROOT/lab")
  [[ $nodes =~ ^[1-9]$ ]] || nodes=9
  echo "$nodes"
}

# Removes all the lab at $DIR made, whatever it got to: each step takes what is there. In a
# subshell without -e, so that one step's failure does not skip the others.
teardown() (
  set +e
  local nodes n d left=() f a engines=() others=(registry-host)
  if [[ ! -d $RUNROOT ]]; then
    # The lab's names are someone else's now, if anyone's: only DIR is left to remove.
    unmount_under "$DIR" && [[ -e $DIR/.swarm-lab ]] && rm -rf --one-file-system "$DIR"
    [[ ! -e $DIR ]] || { log "could not remove $DIR"; exit 1; }
    exit 0
  fi
  nodes=$(lab_nodes)
  for n in $(seq "$nodes"); do
    engines+=("dockerd-$n")
    others+=("containerd-$n" "registry-$n")
  done
  stop_procs 2 watcher
  # The engines first, while their containerd still runs: they stop their containers and unmount.
  stop_procs 15 "${engines[@]}"
  stop_procs 5 "${others[@]}"
  for n in $(seq "$nodes"); do kill_node_procs "$n"; done
  # A shim that was killed leaves its socket in containerd's fixed /run/containerd/s.
  for f in "$RUNROOT"/c*/io.containerd.runtime.v2.task/*/*/address; do
    [[ -r $f ]] || continue
    a=$(<"$f")
    a=${a#unix://}
    [[ $a == /run/containerd/s/* && -S $a ]] && rm -f "$a"
  done
  unmount_under "$RUNROOT" "$DIR"
  for n in $(seq "$nodes"); do
    for d in $(cgroups_of "$n"); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
    ip netns del "$(ns_of "$n")" 2>/dev/null
    ip link del "$(veth_of "$n")" 2>/dev/null
  done
  ip link del "$BRIDGE" 2>/dev/null
  while iptables -C "${IPT_RULE[@]}" 2>/dev/null; do iptables -D "${IPT_RULE[@]}"; done

  # Never rm through a mount (a container's bind mount of / would take the host with it), and
  # never a directory that is not a lab's.
  if [[ -z $(mounts_under "$RUNROOT" "$DIR") ]]; then
    [[ -e $DIR/.swarm-lab ]] && rm -rf --one-file-system "$DIR"
    [[ -e $DIR ]] || rm -rf --one-file-system "$RUNROOT"
  fi

  for n in $(seq "$nodes"); do
    ip netns list | grep -qw "$(ns_of "$n")" && left+=("netns $(ns_of "$n")")
    ip link show "$(veth_of "$n")" &>/dev/null && left+=("link $(veth_of "$n")")
    [[ -n $(node_pids "$n") ]] && left+=("processes of node $n")
    [[ -n $(cgroups_of "$n") ]] && left+=("cgroup tblab-n$n")
  done
  ip link show "$BRIDGE" &>/dev/null && left+=("bridge $BRIDGE")
  iptables -C "${IPT_RULE[@]}" 2>/dev/null && left+=("the iptables rule")
  [[ -e $DIR ]] && left+=("$DIR")
  [[ -e $RUNROOT ]] && left+=("$RUNROOT")
  ((${#left[@]} == 0)) || {
    log "teardown left: ${left[*]} (run down again, or remove them by hand)"
    exit 1
  }
)

require_root() { ((EUID == 0)) || die "must run as root (it makes network namespaces and engines)"; }

require_tools() {
  local t missing=()
  for t in ip iptables ss nsenter unshare setsid flock dockerd containerd \
    containerd-shim-runc-v2 runc docker docker-registry timeout realpath awk paste; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) ||
    die "missing: ${missing[*]} (apt-get install iproute2 iptables util-linux docker.io docker-registry)"
}

# Sets DIR from the argument; refuses paths that the configs and mount checks would mangle.
set_dir() {
  DIR=$(realpath -m -- "$1")
  [[ $DIR =~ ^/[A-Za-z0-9._/@+,-]+$ && $DIR != / ]] ||
    die "use a directory path of letters, digits and ._/@+,- only: $1"
}

owner() { cat "$RUNROOT/owner" 2>/dev/null || echo '(unknown: remove /run/tblab by hand)'; }

# Exits unless the running lab is $DIR's.
require_owner() {
  [[ -d $RUNROOT ]] || die "no swarm lab is running (no $RUNROOT)"
  [[ $(owner) == "$DIR" ]] || die "the running swarm lab is not $DIR's but $(owner)'s"
}

# Whether the registry answers GET /v2/ on 127.0.0.1:PORT, inside network namespace NS if given.
registry_ok() {
  local port=$1 pre=()
  [[ -n ${2:-} ]] && pre=(nsenter "--net=/run/netns/$2")
  # shellcheck disable=SC2016 # expanded by the inner bash
  "${pre[@]}" timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
    printf "GET /v2/ HTTP/1.0\r\n\r\n" >&3 && read -r status <&3 && [[ $status == HTTP/1.?\ 200* ]]' \
    "$port" 2>/dev/null
}

# Waits until CHECK... succeeds, at most SECS; fails early if the lab process NAME is gone.
wait_for() {
  local secs=$1 name=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" &>/dev/null; do
    live_pid "$name" >/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Dies with the tail of LOG, where a daemon that did not start says why.
die_with_log() {
  log "$1; the end of $2:"
  tail -n 20 "$2" >&2 || true
  exit 1
}

# The conflicts that stop `up` before it makes anything: the lab's names taken, its port used.
conflicts() {
  local port=$1 l
  ip link show "$BRIDGE" &>/dev/null && echo "bridge $BRIDGE: ip link del $BRIDGE"
  for l in $(ip netns list | awk '$1 ~ /^tblab-/ { print $1 }'); do echo "netns $l: ip netns del $l"; done
  for l in $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); if ($2 ~ /^tblab-/) print $2 }'); do
    echo "link $l: ip link del $l"
  done
  find /sys/fs/cgroup -maxdepth 2 -type d -name 'tblab-n*' -printf 'cgroup %p: find %p -depth -type d -delete\n' 2>/dev/null
  iptables -C "${IPT_RULE[@]}" 2>/dev/null && echo "iptables rule: iptables -D ${IPT_RULE[*]}"
  [[ -z $(ss -Hltn "sport = :$port") ]] ||
    echo "port $port is in use on this host (SWARM_LAB_PORT picks another)"
  return 0
}

UP_STAGE=0   # 0: DIR taken; 1: /run/tblab claimed; 2: building
DIR_MADE=0   # whether `up` created DIR
up_exit() {  # the EXIT trap of `up` until it is done: undo what it made
  local rc=$?
  trap - EXIT
  ((rc)) || rc=1
  if ((UP_STAGE == 2)); then
    log "up failed: removing what it made"
    teardown || true
  else
    ((UP_STAGE == 1)) && rm -rf "$RUNROOT"
    rm -f "$DIR/.swarm-lab" "$DIR/.lock"
    ((DIR_MADE)) && rmdir "$DIR" 2>/dev/null
  fi
  exit "$rc"
}

cmd_up() {
  (($# == 1)) || usage
  local nodes=${SWARM_LAB_NODES:-3} port=${SWARM_LAB_PORT:-5000} owner=${SWARM_LAB_OWNER:-}
  local n ns nd a pids=() stat start fields conflicting token out ready env
  require_root
  [[ $nodes =~ ^[1-9]$ ]] || die "SWARM_LAB_NODES must be 1 to 9, not '$nodes'"
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "SWARM_LAB_PORT: bad port '$port'"
  fi
  if [[ -n $owner ]]; then
    if ! [[ $owner =~ ^[0-9]+$ ]] || ! stat=$(<"/proc/$owner/stat"); then
      die "SWARM_LAB_OWNER: no process $owner"
    fi
    # Its start time tells it from a later process that gets the same pid.
    read -ra fields <<<"${stat##*) }"
    start=${fields[19]}
  fi
  require_tools
  set_dir "$1"
  if [[ -e $DIR ]]; then
    [[ -d $DIR && -z $(ls -A "$DIR") ]] || die "$DIR exists and is not an empty directory"
  else
    mkdir -p "$DIR"
    DIR_MADE=1
  fi
  trap up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  touch "$DIR/.swarm-lab" # the mark `down` asks for before it removes a directory
  # Held until `up` ends: a watcher's or user's `down` waits for it instead of racing it.
  exec 9>"$DIR/.lock"
  flock -n 9 || die "another swarm-lab.sh works on $DIR"

  # mkdir is atomic: of two labs started at once, one gets /run/tblab.
  if ! mkdir "$RUNROOT" 2>/dev/null; then
    die "another swarm lab is running, with its state in $(owner); remove it with: $SELF down $(owner)"
  fi
  UP_STAGE=1
  echo "$DIR" >"$RUNROOT/owner"
  printf 'NODES=%s\nPORT=%s\n' "$nodes" "$port" >"$RUNROOT/lab"
  mkdir "$RUNROOT/pids"
  conflicting=$(conflicts "$port")
  if [[ -n $conflicting ]]; then
    log "error: cannot build the lab: these exist already and are not this lab's (another lab"
    log "  without its $RUNROOT, or one half removed?). If they are leftovers, remove them by hand:"
    while read -r a; do log "  $a"; done <<<"$conflicting"
    exit 1
  fi
  UP_STAGE=2 # from here on everything named tblab* is this lab's

  if [[ -n $owner ]]; then
    log "watching pid $owner: when it is gone, the lab goes"
    start_bg watcher "$DIR/watcher.log" nohup "$SELF" _watch "$DIR" "$owner" "$start"
  fi

  log "network: bridge $BRIDGE $NET.1/24, $nodes namespaces"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  iptables -I "${IPT_RULE[@]}"
  for n in $(seq "$nodes"); do
    ns=$(ns_of "$n")
    ip netns add "$ns"
    ip link add "$(veth_of "$n")" type veth peer name eth0 netns "$ns"
    ip link set "$(veth_of "$n")" master "$BRIDGE" up
    ip -n "$ns" addr add "$(addr_of "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$NET.1"
  done

  # One storage, one registry on 127.0.0.1:PORT in each namespace: loopback registries need no TLS
  # nor --insecure-registry, so the host engine pushes and the nodes pull the same image name.
  # The shared secret is what several registries on one storage need to agree on uploads.
  log "registry: 127.0.0.1:$port on the host and in each node"
  mkdir -p "$DIR/registry"
  cat >"$DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: swarm-lab-shared
EOF
  start_bg registry-host "$DIR/registry.log" docker-registry serve "$DIR/registry.yml"
  for n in $(seq "$nodes"); do
    nd=$(nodedir_of "$n")
    mkdir -p "$nd"
    start_bg "registry-$n" "$nd/registry.log" \
      nsenter "--net=/run/netns/$(ns_of "$n")" docker-registry serve "$DIR/registry.yml"
  done

  # Each node its own containerd: given none, dockerd would use a system one at
  # /run/containerd/containerd.sock where there is one, shared by all the nodes and the host.
  log "engines: starting $nodes containerd and dockerd"
  for n in $(seq "$nodes"); do
    nd=$(nodedir_of "$n")
    cat >"$nd/containerd.toml" <<EOF
version = 2
root = "$nd/containerd"
state = "$RUNROOT/c$n"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$RUNROOT/c$n/containerd.sock"
[debug]
  level = "warn"
[plugins."io.containerd.internal.v1.opt"]
  path = "$nd/containerd/opt"
EOF
    echo '{}' >"$nd/daemon.json" # not the host's /etc/docker/daemon.json
    start_bg "containerd-$n" "$nd/containerd.log" \
      nsenter "--net=/run/netns/$(ns_of "$n")" containerd --config "$nd/containerd.toml"
  done
  for n in $(seq "$nodes"); do
    wait_for 30 "containerd-$n" test -S "$RUNROOT/c$n/containerd.sock" ||
      die_with_log "node $n: containerd did not start" "$(nodedir_of "$n")/containerd.log"
  done
  for n in $(seq "$nodes"); do
    nd=$(nodedir_of "$n")
    # Its own UTS namespace gives the node its own hostname; the exec root stays short for the
    # unix sockets made under it (108 bytes at most).
    # shellcheck disable=SC2016 # expanded by sh
    start_bg "dockerd-$n" "$nd/dockerd.log" \
      nsenter "--net=/run/netns/$(ns_of "$n")" unshare --uts \
      sh -c 'hostname "$0" && exec "$@"' "tblab-node$n" \
      dockerd --config-file "$nd/daemon.json" --data-root "$nd/docker" \
      --exec-root "$RUNROOT/d$n" --pidfile "$RUNROOT/d$n.pid" -H "unix://$(sock_of "$n")" \
      --containerd "$RUNROOT/c$n/containerd.sock" --bridge none \
      --default-address-pool "base=10.$((140 + n)).0.0/16,size=24" --cgroup-parent "/tblab-n$n" \
      --log-level warn --shutdown-timeout 3
  done
  for n in $(seq "$nodes"); do
    wait_for 60 "dockerd-$n" docker -H "unix://$(sock_of "$n")" version ||
      die_with_log "node $n: dockerd did not start" "$(nodedir_of "$n")/dockerd.log"
  done

  for n in "" $(seq "$nodes"); do
    wait_for 20 "registry-${n:-host}" registry_ok "$port" ${n:+"$(ns_of "$n")"} ||
      die_with_log "the registry${n:+ of node $n} does not answer" "$DIR/${n:+node$n/}registry.log"
  done

  log "swarm: init on node 1, $((nodes - 1)) joining"
  a=$(addr_of 1)
  # Heartbeats every 2 s rather than 5: a lost node is found down (and its tasks started
  # elsewhere) in about 10 s rather than 30, as a production swarm that must survive a lost node
  # would choose too (`docker swarm update --dispatcher-heartbeat`)
  out=$(docker -H "unix://$(sock_of 1)" swarm init --advertise-addr "$a" --listen-addr "$a:2377" \
    --dispatcher-heartbeat 2s --default-addr-pool "$OVERLAY_POOL" --default-addr-pool-mask-length 24 2>&1) ||
    die "swarm init failed: $out"
  token=$(docker -H "unix://$(sock_of 1)" swarm join-token -q worker)
  for n in $(seq 2 "$nodes"); do
    a=$(addr_of "$n")
    docker -H "unix://$(sock_of "$n")" swarm join --token "$token" --advertise-addr "$a" \
      --listen-addr "$a:2377" "$(addr_of 1):2377" >"$(nodedir_of "$n")/join.log" 2>&1 &
    pids+=($!)
  done
  for n in $(seq 2 "$nodes"); do
    wait "${pids[n - 2]}" || die "node $n: swarm join failed: $(cat "$(nodedir_of "$n")/join.log")"
  done
  ready=0
  for _ in $(seq 150); do
    ready=$(docker -H "unix://$(sock_of 1)" node ls --format '{{.Status}}' | grep -c '^Ready$') || true
    ((ready == nodes)) && break
    sleep 0.2
  done
  ((ready == nodes)) || die "only $ready of $nodes nodes are Ready after 30 s"

  env="DOCKER_HOST=unix://$(sock_of 1)
SWARM_LAB_REGISTRY=127.0.0.1:$port
SWARM_LAB_NODES=\"$(for n in $(seq "$nodes"); do addr_of "$n"; done | paste -sd' ')\"
SWARM_LAB_SOCKETS=\"$(for n in $(seq "$nodes"); do echo "unix://$(sock_of "$n")"; done | paste -sd' ')\""
  echo "$env" >"$DIR/env"
  trap - EXIT INT TERM HUP
  log "up: $nodes nodes Ready, registry 127.0.0.1:$port (remove with: $SELF down $DIR)"
  echo "$env"
}

cmd_env() {
  (($# == 1)) || usage
  set_dir "$1"
  [[ -r $DIR/env ]] || die "no lab is up at $DIR"
  cat "$DIR/env"
}

cmd_down() {
  (($# == 1)) || usage
  require_root
  set_dir "$1"
  if [[ -e $DIR && ! -e $DIR/.swarm-lab ]]; then
    die "$DIR is not a swarm lab's directory"
  fi
  if [[ -e $DIR ]]; then
    exec 9>>"$DIR/.lock"
    flock 9 # after an `up` that is still at work
  fi
  if [[ -d $RUNROOT ]]; then
    require_owner
  elif [[ ! -e $DIR ]]; then
    return 0 # gone already
  fi
  log "down: removing the lab at $DIR"
  teardown
  log "down: done"
}

cmd_kill_node() {
  (($# == 2)) || usage
  require_root
  set_dir "$1"
  local n=$2 nodes
  require_owner
  nodes=$(lab_nodes)
  if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > nodes)); then
    die "no node $n (the lab has 1 to $nodes)"
  fi
  ((n != 1)) || die "node 1 is the manager: kill a worker (2 to $nodes)"
  ip link show "$(veth_of "$n")" &>/dev/null || die "node $n is gone already"
  # The link first, so that the others see the node vanish rather than a clean leave.
  ip link set "$(veth_of "$n")" down
  kill_node_procs "$n"
  log "node $n: link cut, engine and containers killed (its state stays for down)"
}

# Runs `down DIR` once the process PID (started at START) is gone.
cmd_watch() {
  local dir=$1 pid=$2 start=$3 stat f
  while stat=$(<"/proc/$pid/stat"); do
    read -ra f <<<"${stat##*) }"
    [[ ${f[19]} == "$start" ]] || break
    sleep 1
  done 2>/dev/null
  log "$(date -Is): owner $pid is gone"
  exec "$SELF" down "$dir"
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  # The lab's own commands name the engines with -H: an inherited context would override nothing
  # but confuse the reader of the logs.
  unset DOCKER_CONTEXT
  case $cmd in
  up) cmd_up "$@" ;;
  env) cmd_env "$@" ;;
  down) cmd_down "$@" ;;
  kill-node) cmd_kill_node "$@" ;;
  _watch) cmd_watch "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
  esac
}

main "$@"
