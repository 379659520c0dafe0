//! The layers the copies share: the first image of each kind a copy built, kept under a tag of
//! the test run's own, so that the next copy's build is the builder's cache hits.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::checkout::Checkout;
use super::engine::docker_lines;

/// Where the tests keep the first image of each kind a copy built, under a tag of their own
/// (`xtask-e2e-layers:<pid>-dev`, `-base`, `-db`): every copy builds the same Dockerfiles on
/// the same OS image, so while one such image exists, the next copy's build is the classic
/// builder's cache hits, however many copies were dropped (and their images removed) in
/// between. The pid is the owner's (see `owner`); the tags go once it is gone, and a process
/// killed before it could remove them has them removed by the next one.
const LAYERS: &str = "xtask-e2e-layers";

const KINDS: [&str; 3] = ["dev", "base", "db"];

fn layers_tag(pid: u32, kind: &str) -> String {
    format!("{LAYERS}:{pid}-{kind}")
}

/// Whose the kept layers are: the `cargo test` that runs this test binary, where one does,
/// so that every binary it runs after this one builds on them too (each would spend a minute
/// building its first images again); else this process alone.
fn owner() -> u32 {
    let parent = std::os::unix::process::parent_id();
    let name = std::fs::read_to_string(format!("/proc/{parent}/comm")).unwrap_or_default();
    if name.trim() == "cargo" {
        parent
    } else {
        std::process::id()
    }
}

/// Tags each image of `copy` that its owner keeps none of yet, before the copy's `clean`
/// removes its names. Only on the engine the tests' own docker commands reach: a copy whose
/// commands go elsewhere (`env` of DOCKER_HOST, DOCKER_CONTEXT or PATH) keeps nothing. A tag
/// already there (an earlier binary's) is never moved: the image it held would be left.
pub(super) fn keep_the_layers_of(copy: &Checkout) {
    static KEPT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let elsewhere = ["DOCKER_HOST", "DOCKER_CONTEXT", "PATH"];
    if copy.env.iter().any(|(key, _)| elsewhere.contains(&key.as_str())) {
        return;
    }
    let owner = owner();
    let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for kind in KINDS {
        if kept.contains(&kind) {
            continue;
        }
        let tag = layers_tag(owner, kind);
        let there = copy.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &tag]);
        if there || copy.docker_ok(&["tag", &format!("{}-{kind}", copy.prefix()), &tag]) {
            if kept.is_empty() {
                remove_the_layers_when_gone(owner);
            }
            kept.push(kind);
        }
    }
}

/// Removes `owner`'s tags once it is gone: at this process's exit if it is this one, else by
/// a watcher in a process group of its own (a Ctrl-C to the tests does not stop it).
fn remove_the_layers_when_gone(owner: u32) {
    if owner == std::process::id() {
        // SAFETY: registers a function without arguments, run once at exit.
        unsafe { atexit(remove_the_kept_layers) };
        return;
    }
    let tags = KINDS.map(|kind| layers_tag(owner, kind));
    let _ = Command::new("sh")
        .args([
            "-c",
            r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done; docker rmi "$@""#,
        ])
        .arg(owner.to_string())
        .args(tags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
}

extern "C" fn remove_the_kept_layers() {
    remove_layers_of(std::process::id());
}

fn remove_layers_of(pid: u32) {
    let tags: Vec<String> = KINDS.iter().map(|kind| layers_tag(pid, kind)).collect();
    let _ = Command::new("docker")
        .arg("rmi")
        .args(&tags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes the layers kept by test processes that are gone (killed before their exit).
pub(super) fn remove_layers_of_processes_gone() {
    let Ok(tags) = docker_lines(&["image", "ls", "--format", "{{.Tag}}", LAYERS]) else {
        return;
    };
    let mut gone: Vec<u32> = tags
        .iter()
        .filter_map(|tag| tag.split_once('-')?.0.parse().ok())
        .filter(|pid: &u32| !Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    gone.dedup();
    for pid in gone {
        remove_layers_of(pid);
    }
}
