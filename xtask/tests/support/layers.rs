//! The layers the copies share: the first image of each kind a copy built, kept under a tag of
//! this test process's own, so that the next copy's build is the builder's cache hits.

use std::path::Path;
use std::process::{Command, Stdio};

use super::checkout::Checkout;
use super::engine::docker_lines;

/// Where this test process keeps the first image of each kind a copy built, under a tag of
/// its own (`xtask-e2e-layers:<pid>-dev`, `-base`, `-db`): every copy builds the same
/// Dockerfiles on the same OS image, so while one such image exists, the next copy's build is
/// the classic builder's cache hits, however many copies were dropped (and their images
/// removed) in between. The tags go when the process exits; a process killed before that has
/// its tags removed by the next one.
const LAYERS: &str = "xtask-e2e-layers";

const KINDS: [&str; 3] = ["dev", "base", "db"];

fn layers_tag(pid: u32, kind: &str) -> String {
    format!("{LAYERS}:{pid}-{kind}")
}

/// Tags each image of `copy` that this process keeps none of yet, before the copy's `clean`
/// removes its names. Only on the engine the tests' own docker commands reach: a copy whose
/// commands go elsewhere (`env` of DOCKER_HOST, DOCKER_CONTEXT or PATH) keeps nothing.
pub(super) fn keep_the_layers_of(copy: &Checkout) {
    static KEPT: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let elsewhere = ["DOCKER_HOST", "DOCKER_CONTEXT", "PATH"];
    if copy.env.iter().any(|(key, _)| elsewhere.contains(&key.as_str())) {
        return;
    }
    let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for kind in KINDS {
        if kept.contains(&kind) {
            continue;
        }
        let image = format!("{}-{kind}", copy.prefix());
        if copy.docker_ok(&["tag", &image, &layers_tag(std::process::id(), kind)]) {
            if kept.is_empty() {
                // SAFETY: registers a function without arguments, run once at exit.
                unsafe { atexit(remove_the_kept_layers) };
            }
            kept.push(kind);
        }
    }
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
