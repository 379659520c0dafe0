//! End to end, as a newcomer runs it: a real Docker engine, real images, the real Django suite.
//! Without an engine these tests say they are skipped; under CI=true that is a failure instead.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker client runs")
}

fn engine_answers() -> bool {
    let up = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    if up.is_ok_and(|output| output.status.success()) {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI=true: the end-to-end tests need a Docker engine"
    );
    eprintln!("SKIPPED: no Docker engine answers (`dockerd &` starts one); set CI=true to make this a failure");
    false
}

/// Runs the xtask for the checkout at `root` from `cwd`; returns its exit code and all it printed.
fn xtask_for(root: &Path, cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(cwd)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// The number N in Django's `Ran N tests`.
fn tests_ran(output: &str) -> usize {
    let line = output
        .lines()
        .find(|line| line.starts_with("Ran "))
        .unwrap_or_else(|| panic!("no `Ran N tests`:\n{output}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A fresh machine has none of the project's images: in CI, start from there, so the OS
/// image is made the way a machine without a registry makes it.
fn remove_the_projects_images_and_cache() {
    docker(&["rm", "--force", "--volumes", "cache"]);
    docker(&["volume", "rm", "todobackend-cache"]);
    let ids = docker(&["image", "ls", "--quiet", "--filter", "label=application=todobackend"]);
    let ids = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(String::from)
        .collect::<Vec<_>>();
    if !ids.is_empty() {
        let mut args = vec!["rmi", "--force"];
        args.extend(ids.iter().map(String::as_str));
        docker(&args);
    }
}

#[test]
fn the_labs_workflow_runs_from_a_subdirectory_against_a_real_engine() {
    if !engine_answers() {
        return;
    }
    let root = root();
    let cwd = root.join("src/todo");
    if std::env::var("CI").as_deref() == Ok("true") {
        remove_the_projects_images_and_cache();
    }

    let (code, out) = xtask_for(&root, &cwd, &["dev-image"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("$ docker build -t todobackend-dev -f docker/dev/Dockerfile .\n"),
        "{out}"
    );
    assert!(docker(&["image", "inspect", "todobackend-dev"]).status.success());

    for _ in 0..2 {
        let (code, out) = xtask_for(&root, &cwd, &["cache"]);
        assert_eq!(code, Some(0), "{out}");
    }
    let (_, out) = xtask_for(&root, &cwd, &["cache"]);
    assert!(out.contains("`cache` exists"), "{out}");
    let mounts = docker(&[
        "container",
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}",
        "cache",
    ]);
    assert!(String::from_utf8_lossy(&mounts.stdout).contains("todobackend-cache:/cache"));

    let (code, out) = xtask_for(&root, &cwd, &["test"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(tests_ran(&out) >= 12, "{out}");
    assert!(out.lines().any(|line| line == "OK"), "{out}");

    // Arguments reach manage.py, and pip's cache outlives the throw-away containers.
    let (code, out) = xtask_for(&root, &cwd, &["test", "--", "todo.tests.TestCreateTodoItem"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(tests_ran(&out) >= 4 && tests_ran(&out) < 12, "{out}");
    assert!(out.contains("Using cached mysqlclient"), "{out}");

    a_failing_test_makes_the_task_fail(&root);
}

/// Runs a copy of the checkout with one test made to fail. Its dev image takes the same name,
/// so this is a step of the story above, never run beside it, and puts the real image back.
fn a_failing_test_makes_the_task_fail(root: &Path) {
    let copy = std::env::temp_dir().join(format!("xtask-e2e-failing-{}", std::process::id()));
    let _ = fs::remove_dir_all(&copy);
    fs::create_dir_all(copy.join("xtask")).unwrap();
    for item in ["src", "docker", "scripts", ".dockerignore"] {
        let status = Command::new("cp")
            .arg("-R")
            .arg(root.join(item))
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success());
    }
    fs::write(
        copy.join("src/todo/test_made_to_fail.py"),
        "from django.test import SimpleTestCase\n\n\nclass MadeToFail(SimpleTestCase):\n    def test_fails(self):\n        self.assertEqual(1, 2)\n",
    )
    .unwrap();

    let (code, out) = xtask_for(&copy, &copy.join("src"), &["test"]);
    let _ = fs::remove_dir_all(&copy);
    // Put the checkout's own dev image back, and drop the one made to fail.
    let (restored, restore_out) = xtask_for(root, root, &["dev-image"]);
    assert_eq!(restored, Some(0), "{restore_out}");
    docker(&["image", "prune", "--force", "--filter", "label=application=todobackend"]);

    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED (failures=1)"), "{out}");
    assert!(out.contains("The test run failed with exit code 1"), "{out}");
}

#[test]
fn an_engine_that_does_not_answer_is_reported_with_what_to_do() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("test")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the Docker engine is not answering") && err.contains("DOCKER_HOST"),
        "{err}"
    );
}
