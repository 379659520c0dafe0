//! `cargo xtask doctor`, and what every task says of docker and the engine: a missing client, an
//! engine that does not answer, and the one call that asks the client, its context and the
//! engine (Podman's asked again in its own terms).

use std::fs;

use crate::fake_docker::{FakeDocker, stderr};

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
