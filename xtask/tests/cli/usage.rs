//! The command line: bad usage and `--help`, an unknown settings name refused before docker is
//! asked anything, `--dry-run` printing every command and running none, and the README's task
//! table kept in step with the help.

use std::fs;

use crate::fake_docker::{FakeDocker, RUN_PART, stderr};
use crate::support;

#[test]
fn bad_usage_exits_2_with_the_usage_and_help_exits_0() {
    let fake = FakeDocker::new("usage");
    for args in [&[][..], &["nosuch"], &["cache", "--force"], &["test", "todo.tests"]] {
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
