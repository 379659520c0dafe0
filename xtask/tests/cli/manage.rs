//! `cargo xtask manage`: `manage.py` in a throw-away dev container with `src/` mounted and the
//! settings' services, as the invoking user; baked on a remote engine; its exit code the task's.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::expected::{dev_build, echoed_docker_commands, normalized, run};
use crate::fake_docker::{FakeDocker, stderr};

#[test]
fn manage_runs_manage_py_in_the_dev_container_with_src_mounted_and_the_settings_services() {
    let fake = FakeDocker::new("manage")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_RUN_EXIT", "4");
    let root = fake.root();
    let output = fake.xtask(
        &root.join("src/todo"),
        &["manage", "--settings", "test", "--", "makemigrations", "todo"],
    );
    // The command's exit code is the task's.
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let create = changes
        .iter()
        .find(|args| args.starts_with(&format!("create --name {run}-manage ")))
        .unwrap_or_else(|| panic!("no manage container: {changes:#?}"));
    assert!(
        create.contains(&format!(" --network {run} "))
            && create.contains(&format!(" -v {}/src:/application ", root.display()))
            && create.contains(" --volumes-from cache ")
            && create.contains(" -e DJANGO_SETTINGS_MODULE=todobackend.settings.test ")
            && create.contains(" -e MYSQL_HOST=db -e MYSQL_PORT=3306 -e MYSQL_PASSWORD ")
            && create.ends_with(" python manage.py makemigrations todo"),
        "{create}"
    );
    // Not on a terminal (stdin is not one here): neither -i nor -t, so nothing waits for input.
    assert!(
        !create.contains("--interactive") && !create.contains("--tty"),
        "{create}"
    );
    // As root, the container runs as root: the files it writes are the invoking user's.
    assert!(!create.contains("--user"), "{create}");
    // The database was started first; everything is removed after, newest first.
    assert!(
        changes
            .iter()
            .any(|args| args.starts_with(&format!("run --detach --name {run}-db "))),
        "{changes:#?}"
    );
    let at = changes.iter().position(|args| args == create).unwrap();
    assert_eq!(
        changes[at + 1..],
        [
            format!("start --attach {run}-manage"),
            format!("rm --force --volumes {run}-manage {run}-db"),
            format!("network rm {run}"),
        ]
    );
    let err = stderr(&output);
    assert!(
        err.contains("=> Running `manage.py makemigrations todo` with todobackend.settings.test"),
        "{err}"
    );
    assert!(err.contains("failed with exit code 4"), "{err}");
}

#[test]
fn manage_runs_the_container_as_the_invoking_user_when_not_root() {
    let fake = FakeDocker::new("manage-user").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    // An `id` beside the fake docker: the user is 1000, their group 100.
    let id = fake.dir.join("id");
    fs::write(&id, "#!/bin/sh\ncase \"$1\" in -u) echo 1000 ;; -g) echo 100 ;; esac\n").unwrap();
    fs::set_permissions(&id, fs::Permissions::from_mode(0o755)).unwrap();
    fake.xtask_ok(fake.root(), &["manage", "--", "makemigrations", "todo"]);
    let changes = fake.changes();
    let create = changes
        .iter()
        .find(|args| args.starts_with("create --name ") && args.contains("-manage "))
        .unwrap_or_else(|| panic!("{changes:#?}"));
    assert!(
        create.contains(" --user 1000:100 ") && create.contains(" -e HOME=/tmp "),
        "{create}"
    );
}

#[test]
fn manage_on_a_remote_engine_says_it_runs_on_the_baked_source() {
    let fake = FakeDocker::new("manage-remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_ENDPOINT", "tcp://build-host:2376");
    let output = fake.xtask_ok(fake.root(), &["manage", "--", "check"]);
    assert!(
        stderr(&output).contains("cannot see this checkout: running on the source baked into a fresh image"),
        "{}",
        stderr(&output)
    );
    let changes = fake.changes();
    let built = dev_build(fake.root(), "debian:bookworm-slim").len();
    assert!(
        changes[built - 1].starts_with("build -t todobackend-dev "),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|args| args.contains(":/application") || args.contains("--user")),
        "{changes:?}"
    );
}

#[test]
fn manage_dry_run_prints_the_commands_and_runs_none() {
    let fake = FakeDocker::new("manage-dry-run").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["manage", "--dry-run", "--", "migrate"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let echoed = echoed_docker_commands(&output);
    let starts: Vec<&str> = echoed.iter().map(|args| args[0].as_str()).collect();
    assert_eq!(starts[starts.len() - 3..], ["create", "start", "rm"], "{echoed:#?}");
    assert!(
        echoed
            .iter()
            .any(|args| args.ends_with(&["python".into(), "manage.py".into(), "migrate".into()]))
    );
}

#[test]
fn manage_without_a_command_is_bad_usage() {
    let fake = FakeDocker::new("manage-usage");
    for args in [
        &["manage"][..],
        &["manage", "--"],
        &["manage", "migrate"],
        &["manage", "--settings", "nope", "--", "check"],
    ] {
        let output = fake.xtask(fake.root(), args);
        let err = stderr(&output);
        if args.contains(&"nope") {
            // An unknown settings module is refused before docker is asked anything.
            assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
            continue;
        }
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("Usage: cargo xtask <TASK>") && err.contains("manage.py"),
            "{args:?}: {err}"
        );
    }
    let output = fake.xtask(fake.root(), &["manage", "--help"]);
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("cargo xtask manage -- makemigrations todo"));
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
