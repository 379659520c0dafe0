//! What the tests expect docker to be asked, and how they read what a run asked: the lines it
//! echoed as a shell reads them, each run's random parts normalized, and the commands of the
//! dev image's build, the worker and a test run as a run of a copy makes them.

use std::path::Path;
use std::process::{Command, Output};

use crate::fake_docker::{RUN_PART, stderr};

/// What makes the lab's volume container.
pub const CACHE_RUN: [&str; 2] = [
    "volume create --label application=todobackend --label todobackend.cache=todobackend-cache todobackend-cache",
    "create --name cache --label application=todobackend --label todobackend.cache=todobackend-cache \
     -v todobackend-cache:/cache --entrypoint true todobackend-dev",
];

/// The words a POSIX shell makes of `line`: what a user who pastes an echoed command runs.
pub fn shell_words(line: &str) -> Vec<String> {
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

/// `word` as a run echoes it: bare when a shell reads it so, else in single quotes (what
/// `shell_words` makes of the result is `word` again).
pub fn shell_quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    let quoted = if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    };
    assert_eq!(shell_words(&quoted), [word], "{quoted}");
    quoted
}

/// The docker commands a run echoed (`$ ...` lines), as a shell reads them: their arguments
/// after `docker`, without the variables set before it.
pub fn echoed_docker_commands(output: &Output) -> Vec<Vec<String>> {
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
pub fn normalized(args: &str) -> String {
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
pub fn run() -> String {
    format!("todobackend-{RUN_PART}-RUN")
}

/// The dev image's build, as a run of the checkout at `root` makes it on `os` where the pip
/// cache's volume exists: its `tools` stage, the requirements' wheels made in a container of
/// it and staged, then the image.
pub fn dev_build(root: &Path, os: &str) -> Vec<String> {
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
pub fn copy_out(root: &Path, role: &str, from: &str, to: &str) -> String {
    let run = run();
    format!(
        "cp {run}-{role}:{from}/. {}/target/xtask/runs/{run}/{to}",
        root.display()
    )
}

/// The checkout's test worker, as `normalized` names it.
pub fn worker() -> String {
    format!("todobackend-{RUN_PART}-CHECKOUT-worker")
}

/// The making of the worker's network.
pub fn worker_network(root: &Path) -> String {
    format!(
        "network create --label application=todobackend --label todobackend.checkout={} \
         --label todobackend.worker=INPUTS todobackend-{RUN_PART}-CHECKOUT-net",
        root.display()
    )
}

/// The start of the worker on the dev image `sha256:built`.
pub fn worker_run(root: &Path) -> String {
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
pub fn test_run(root: &Path, extra: &str) -> [String; 2] {
    let run = run();
    let create = format!(
        "create --name {run}-test --label application=todobackend --label todobackend.checkout={root} \
         --label todobackend.run={run} {extra}--volumes-from cache \
         -e DJANGO_SETTINGS_MODULE=todobackend.settings.base sha256:built suite.py run",
        root = root.display()
    );
    [create, format!("start --attach {run}-test")]
}
