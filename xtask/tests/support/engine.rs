//! The engine as the tests reach it: whether one answers (without one a test says SKIPPED, or
//! fails under CI=true: see `here`), and the docker client run for what it lists or for its
//! effect.

use std::process::{Command, Stdio};

/// Whether a Docker engine answers. Without one the tests say SKIPPED; under CI=true that is
/// a failure instead, so CI cannot go green by testing nothing.
pub fn engine_answers() -> bool {
    let up = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    here(
        up.is_ok_and(|output| output.status.success()),
        "no Docker engine answers (`dockerd &` starts one)",
    )
}

/// Whether what a test needs is `present`. When not, the test says SKIPPED with `missing`
/// (what is missing and how to get it) and goes no further; under CI=true it fails instead.
pub fn here(present: bool, missing: &str) -> bool {
    if present {
        return true;
    }
    assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true: {missing}");
    eprintln!("SKIPPED: {missing}; set CI=true to make this a failure");
    false
}

/// Runs the docker client; its stdout lines, or one line saying how it failed (so a failed
/// listing never reads as "nothing there").
pub fn docker_lines(args: &[&str]) -> Result<Vec<String>, String> {
    lines_of(Command::new("docker").args(args), args)
}

/// Runs the docker client for its effect; whether it succeeded.
pub fn docker_ok(args: &[&str]) -> bool {
    succeeds(Command::new("docker").args(args))
}

/// What `docker_lines` says of `command`, docker run with `args`.
pub(super) fn lines_of(command: &mut Command, args: &[&str]) -> Result<Vec<String>, String> {
    let output = command.output().map_err(|err| format!("cannot run docker: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "`docker {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(String::from)
        .collect())
}

pub(super) fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
