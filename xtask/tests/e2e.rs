//! End to end, as a newcomer runs it: a real Docker engine, real images, the real Django suite.
//! Without an engine these tests say they are skipped; under CI=true that is a failure instead.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{Checkout, engine_answers};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker client runs")
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
        out.contains("$ docker build -t todobackend-dev -f docker/dev/Dockerfile --force-rm --build-arg OS_IMAGE="),
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
    the_reports_count_the_tests_that_ran(&root, tests_ran(&out));

    // Arguments reach manage.py, and a run installs nothing: the requirements are in the image.
    let (code, out) = xtask_for(&root, &cwd, &["test", "--", "todo.tests.TestCreateTodoItem"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(tests_ran(&out) >= 4 && tests_ran(&out) < 12, "{out}");
    assert!(!out.contains("Collecting "), "{out}");

    the_test_settings_run_against_a_database_that_is_gone_after(&root, &cwd);
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing(&root, signal, code);
    }
    two_checkouts_run_the_database_tests_at_once();
    a_database_that_never_gets_ready_fails_clearly_and_leaves_nothing();
    a_failing_test_makes_the_task_fail(&root);
    a_dry_run_creates_no_container(&root);
    doctor_says_every_need_is_met(&root);
    the_output_has_colour_on_a_terminal_and_none_with_no_color(&root);
    the_wheels_install_offline_and_pass_the_apps_tests(&root);
    if std::env::var("CI").as_deref() == Ok("true") {
        clean_leaves_nothing_of_the_projects_on_the_engine(&root);
    }
}

fn the_reports_count_the_tests_that_ran(root: &Path, ran: usize) {
    let junit = fs::read_to_string(root.join("target/reports/junit.xml")).expect("target/reports/junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), ran, "{junit}");
    let coverage = fs::read_to_string(root.join("target/reports/coverage.xml")).expect("target/reports/coverage.xml");
    assert!(
        coverage.contains("<coverage ") && coverage.contains("todo/views.py"),
        "{coverage}"
    );
}

/// The run's name, from the line that starts its database.
fn run_name(out: &str) -> String {
    let line = out
        .lines()
        .find(|line| line.starts_with("=> Starting db "))
        .unwrap_or_else(|| panic!("no database started:\n{out}"));
    line.rsplit(' ').next().unwrap().trim_end_matches("-db").to_string()
}

fn lines_of(output: Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Containers and networks of the run, and volumes no container uses: none may remain.
fn assert_nothing_left(run: &str, dangling_before: &[String]) {
    let label = format!("label=todobackend.run={run}");
    let containers = lines_of(docker(&["container", "ls", "--all", "--quiet", "--filter", &label]));
    let networks = lines_of(docker(&["network", "ls", "--quiet", "--filter", &label]));
    let mut volumes = lines_of(docker(&["volume", "ls", "--quiet", "--filter", "dangling=true"]));
    volumes.retain(|volume| !dangling_before.contains(volume));
    assert!(
        containers.is_empty() && networks.is_empty() && volumes.is_empty(),
        "{run} left containers {containers:?}, networks {networks:?}, volumes {volumes:?}"
    );
}

/// The engine's events from `since` to now, filtered, one formatted line each.
fn events_since(since: Duration, filters: &[&str], format: &str) -> Vec<String> {
    // To the nanosecond, so a step's events never include the previous step's last second; until
    // the next whole second, so the events of the last instant have been recorded.
    let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
    let until = (unix_time().as_secs() + 1).to_string();
    let mut args = vec!["events", "--since", &since, "--until", &until, "--format", format];
    for filter in filters {
        args.extend(["--filter", filter]);
    }
    lines_of(docker(&args))
}

fn unix_time() -> Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap()
}

fn dangling_volumes() -> Vec<String> {
    lines_of(docker(&["volume", "ls", "--quiet", "--filter", "dangling=true"]))
}

fn the_test_settings_run_against_a_database_that_is_gone_after(root: &Path, cwd: &Path) {
    let dangling = dangling_volumes();
    let started = unix_time();
    let (code, out) = xtask_for(root, cwd, &["test", "--settings", "test"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(tests_ran(&out) >= 12, "{out}");
    assert!(out.lines().any(|line| line == "OK"), "{out}");
    the_reports_count_the_tests_that_ran(root, tests_ran(&out));

    let run = run_name(&out);
    let actions = events_since(
        started,
        &["type=container", &format!("container={run}-db")],
        "{{.Action}}",
    );
    assert!(
        actions.iter().any(|action| action == "start") && actions.iter().any(|action| action == "destroy"),
        "{actions:?}"
    );
    assert_nothing_left(&run, &dangling);
    // The passwords were fresh and never printed.
    assert!(out.contains("MYSQL_PASSWORD=*** "), "{out}");
    assert!(!out.contains("MYSQL_PASSWORD=password"), "{out}");
}

fn a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing(root: &Path, signal: &str, code: i32) {
    let dangling = dangling_volumes();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["test", "--settings", "test"])
        .current_dir(root)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut out = String::new();
    while !out.contains("s after `docker run`") {
        let mut line = String::new();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "the run ended first:\n{out}");
        out.push_str(&line);
    }
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    assert!(kill.unwrap().success());
    stderr.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "SIG{signal}: took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(code), "SIG{signal}:\n{out}");
    assert!(out.contains("interrupted by SIG"), "{out}");
    assert_nothing_left(&run_name(&out), &dangling);
}

fn two_checkouts_run_the_database_tests_at_once() {
    let copies = ["one", "two"].map(|name| Checkout::copy(&format!("concurrent-{name}")));
    let runs = copies.each_ref().map(|copy| {
        copy.xtask(&["test", "--settings", "test"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    });
    let outputs = runs.map(|run| run.wait_with_output().unwrap());
    drop(copies);
    let mut names = Vec::new();
    for output in outputs {
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(0), "{out}");
        assert!(tests_ran(&out) >= 12, "{out}");
        names.push(run_name(&out));
    }
    assert_ne!(names[0], names[1]);
}

fn a_database_that_never_gets_ready_fails_clearly_and_leaves_nothing() {
    const NEVER_READY: &str = "todobackend-e2e-never-ready";
    let mut build = Command::new("docker")
        .args(["build", "--quiet", "-t", NEVER_READY, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut build.stdin.take().unwrap(),
        b"FROM todobackend-db\nENTRYPOINT [\"sh\", \"-c\", \"echo 'e2e: this server never starts'; exec sleep 600\"]\n",
    )
    .unwrap();
    assert!(build.wait().unwrap().success());

    let copy = Checkout::copy("never-ready");
    copy.edit("Cargo.toml", |manifest| {
        manifest
            .replace("image = \"todobackend-db\"", &format!("image = \"{NEVER_READY}\""))
            .replace("ready_timeout_secs = 60", "ready_timeout_secs = 3")
    });
    let dangling = dangling_volumes();
    let started = Instant::now();
    let (code, out) = xtask_for(copy.root(), copy.root(), &["test", "--settings", "test"]);
    drop(copy);
    docker(&["rmi", NEVER_READY]);

    assert_eq!(code, Some(1), "{out}");
    assert!(started.elapsed() < Duration::from_secs(60), "{out}");
    assert!(out.contains("was not ready after 3 s"), "{out}");
    assert!(
        out.contains("e2e: this server never starts"),
        "the log tail is shown:\n{out}"
    );
    assert_nothing_left(&run_name(&out), &dangling);
}

fn a_dry_run_creates_no_container(root: &Path) {
    let started = unix_time();
    let (code, out) = xtask_for(root, root, &["test", "--settings", "test", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("$ MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach"),
        "{out}"
    );
    assert!(out.contains("$ docker network rm "), "{out}");
    let created = events_since(started, &["event=create"], "{{.Type}} {{.Actor.Attributes.name}}");
    assert_eq!(created, Vec::<String>::new());
}

fn doctor_says_every_need_is_met(root: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("doctor")
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.lines().count() >= 8 && out.lines().all(|line| line.starts_with("ok ")),
        "{out}"
    );
}

/// Runs `cargo xtask test` under `script`, which gives it a terminal.
fn on_a_terminal(root: &Path, no_color: bool) -> String {
    let mut command = Command::new("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{} test", env!("CARGO_BIN_EXE_xtask")))
        .arg("/dev/null")
        .current_dir(root)
        .env("CARGO_MANIFEST_DIR", root.join("xtask"))
        .env_remove("NO_COLOR");
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{out}");
    out
}

fn the_output_has_colour_on_a_terminal_and_none_with_no_color(root: &Path) {
    assert!(on_a_terminal(root, false).contains("\x1b["));
    let plain = on_a_terminal(root, true);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("=> Running the test suite"), "{plain}");
    assert!(
        plain.contains("=> Took ")
            && plain.lines().any(|line| line
                .trim_end()
                .ends_with("s  Running the test suite with todobackend.settings.base")),
        "{plain}"
    );
}

fn the_wheels_install_offline_and_pass_the_apps_tests(root: &Path) {
    for task in ["build", "base-image"] {
        let (code, out) = xtask_for(root, root, &[task]);
        assert_eq!(code, Some(0), "{out}");
    }
    let wheels = root.join("target/wheels");
    let names: Vec<String> = fs::read_dir(&wheels)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for wheel in ["todobackend-0.1.0-py3-none-any.whl", "Django-", "mysqlclient-"] {
        assert!(
            names
                .iter()
                .any(|name| name.starts_with(wheel) || name.to_lowercase().starts_with(&wheel.to_lowercase())),
            "{wheel} in {names:?}"
        );
    }
    // A fresh venv with no network: only the wheels.
    let mount = format!("{}:/wheels:ro", wheels.display());
    let script = "python3 -m venv /tmp/venv && /tmp/venv/bin/pip install --no-index --find-links /wheels todobackend \
                  && cd /tmp && /tmp/venv/bin/python -m django test todo --settings todobackend.settings.base";
    let output = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "--entrypoint",
        "sh",
        "todobackend-base",
        "-c",
        script,
    ]);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{out}");
    assert!(tests_ran(&out) >= 12 && out.lines().any(|line| line == "OK"), "{out}");
}

fn clean_leaves_nothing_of_the_projects_on_the_engine(root: &Path) {
    let (code, out) = xtask_for(root, root, &["clean", "--all", "--images"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Removing "), "{out}");
    let checkout = format!("label=todobackend.checkout={}", root.display());
    for kind in ["container", "network"] {
        let left = lines_of(docker(&[kind, "ls", "--quiet", "--filter", &checkout]));
        assert!(left.is_empty(), "{kind}s left: {left:?}");
    }
    let built_here = format!("label=todobackend.built-in={}", root.display());
    let dangling = lines_of(docker(&[
        "image",
        "ls",
        "--quiet",
        "--filter",
        "dangling=true",
        "--filter",
        &built_here,
    ]));
    assert!(dangling.is_empty(), "dangling images left: {dangling:?}");
    for image in [
        "todobackend-dev",
        "todobackend-base",
        "todobackend-db",
        "todobackend-os:bookworm",
    ] {
        assert!(
            !docker(&["image", "inspect", image]).status.success(),
            "{image} left:\n{out}"
        );
    }
    assert!(!docker(&["volume", "inspect", "todobackend-cache"]).status.success());
    let (code, out) = xtask_for(root, root, &["clean", "--all"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Nothing of this checkout's runs is left"), "{out}");
}

/// Runs a copy of the checkout with one test made to fail. Where its dev image is built (CI)
/// it takes the same name, so this puts the checkout's own image back.
fn a_failing_test_makes_the_task_fail(root: &Path) {
    let copy = Checkout::copy("failing");
    copy.write(
        "src/todo/test_made_to_fail.py",
        "from django.test import SimpleTestCase\n\n\nclass MadeToFail(SimpleTestCase):\n    def test_fails(self):\n        self.assertEqual(1, 2)\n",
    );

    let (code, out) = xtask_for(copy.root(), &copy.root().join("src"), &["test"]);
    // Put the checkout's own dev image back, and drop the one made to fail: the copy's
    // `clean` removes the images its builds left untagged.
    let (restored, restore_out) = xtask_for(root, root, &["dev-image"]);
    assert_eq!(restored, Some(0), "{restore_out}");
    drop(copy);

    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAILED (failures=1)"), "{out}");
    assert!(out.contains("The test run failed with exit code 1"), "{out}");
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

fn xtask_against_a_dead_engine(task: &str) -> Output {
    let xtask = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg(task)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output();
    xtask.unwrap()
}
