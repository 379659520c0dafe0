//! `cargo xtask release` and `publish`, dry: the whole release in order, refused without its
//! acceptance tests; the tags and pushes of a publish, which an unaccepted image needs `--force` for.

use std::fs;

use crate::expected::{echoed_docker_commands, normalized, run};
use crate::fake_docker::{ALL_IMAGES, FakeDocker, stderr};

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
    // Then the deployment's other images (`deploy` runs them beside it), each built where the
    // engine lacks it and pushed beside the release, tagged with its id (the fake's: `sha256:todobackend-db`).
    let echoed: Vec<Vec<String>> = echoed_docker_commands(&output);
    let built: Vec<&Vec<String>> = echoed.iter().filter(|argv| argv[0] == "build").collect();
    assert!(
        built
            .iter()
            .any(|argv| argv.contains(&"docker/edge/Dockerfile".to_string())),
        "{echoed:?}"
    );
    let echoed: Vec<Vec<String>> = echoed.iter().filter(|argv| argv[0] != "build").cloned().collect();
    let expected: Vec<Vec<String>> = [
        "tag todobackend-release 127.0.0.1:5000/team/todo:unknown",
        "push 127.0.0.1:5000/team/todo:unknown",
        "tag todobackend-release 127.0.0.1:5000/team/todo:latest",
        "push 127.0.0.1:5000/team/todo:latest",
        "tag todobackend-db 127.0.0.1:5000/team/todo-db:todobackend-",
        "push 127.0.0.1:5000/team/todo-db:todobackend-",
        "tag todobackend-edge 127.0.0.1:5000/team/todo-edge:latest",
        "push 127.0.0.1:5000/team/todo-edge:latest",
        "rmi 127.0.0.1:5000/team/todo-edge:latest",
        "rmi 127.0.0.1:5000/team/todo-db:todobackend-",
        "rmi 127.0.0.1:5000/team/todo:latest",
        "rmi 127.0.0.1:5000/team/todo:unknown",
    ]
    .iter()
    .map(|line| line.split(' ').map(String::from).collect())
    .collect();
    assert_eq!(echoed, expected, "{}", stderr(&output));
}
