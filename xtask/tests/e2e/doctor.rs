//! `cargo xtask doctor` on the real engine, and an engine that does not answer, as doctor and a
//! task say it.

use crate::support;
use crate::support::Checkout;

#[test]
fn doctor_says_every_need_is_met() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("doctor");
    let mut doctor = copy.xtask(&["doctor"]);
    doctor.current_dir(std::env::temp_dir());
    let output = doctor.output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.lines().count() >= 8 && out.lines().all(|line| line.starts_with("ok ")),
        "{out}"
    );
}

/// The xtask of a copy (files only) with DOCKER_HOST at a socket nobody listens on.
fn xtask_against_a_dead_engine(task: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("xtask-e2e-dead-engine-{task}-{}", std::process::id()));
    let copy = Checkout::files_in(&dir);
    let output = copy
        .xtask(&[task])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output();
    output.unwrap()
}

#[test]
fn doctor_fails_and_says_how_to_start_an_engine_that_does_not_answer() {
    let output = xtask_against_a_dead_engine("doctor");
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  engine at unix:///nonexistent/docker.sock (from DOCKER_HOST)"),
        "{out}"
    );
    assert!(out.contains("Start it"), "{out}");
}

#[test]
fn an_engine_that_does_not_answer_is_reported_with_what_to_do() {
    let output = xtask_against_a_dead_engine("test");
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the Docker engine is not answering") && err.contains("DOCKER_HOST"),
        "{err}"
    );
}
