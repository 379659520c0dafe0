//! End to end, as a newcomer runs it: a real Docker engine, real images, the real Django suite.
//! Each scenario is a test of its own on its own copy of the checkout, under names of its own
//! (`support::Checkout`), so one failure hides nothing, `cargo test --test e2e NAME` runs one,
//! and none touches the checkout's files or the user's images and pip cache. Without an engine
//! these tests say they are skipped; under CI=true that is a failure instead.

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    A_RUN_ENDS_WITHIN, Checkout, DATABASE_READY_WITHIN, Finished, Running, SIGINT, SIGTERM, Tmux, docker_lines,
    docker_ok, left_on_engine, run_name, run_to_end, signal_process, tests_ran,
};

/// Runs the xtask of `copy` from `cwd` to its end; fails the test unless it exits 0. All it printed.
fn xtask_ok(copy: &Checkout, cwd: &Path, args: &[&str]) -> String {
    let mut xtask = copy.xtask(args);
    xtask.current_dir(cwd);
    let finished = run_to_end(xtask, A_RUN_ENDS_WITHIN);
    assert_eq!(
        finished.code(),
        Some(0),
        "`cargo xtask {}` from {}: {}:\n{}",
        args.join(" "),
        cwd.display(),
        finished.how(),
        finished.output()
    );
    finished.output()
}

/// The suite passed: Django's `OK`, and at least the app's own tests ran.
fn assert_the_suite_passed(out: &str) {
    assert!(tests_ran(out) >= 12, "{out}");
    assert!(out.lines().any(|line| line == "OK"), "{out}");
}

fn assert_the_reports_count_the_tests_that_ran(copy: &Checkout, ran: usize) {
    let reports = copy.root().join("target/reports");
    let junit = fs::read_to_string(reports.join("junit.xml")).expect("target/reports/junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), ran, "{junit}");
    let coverage = fs::read_to_string(reports.join("coverage.xml")).expect("target/reports/coverage.xml");
    assert!(
        coverage.contains("<coverage ") && coverage.contains("todo/views.py"),
        "{coverage}"
    );
}

fn unix_time() -> Duration {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap()
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
    docker_lines(&args).unwrap()
}

/// Nothing of `run` is left: no container or network with its label, and no volume its
/// containers mounted (found by the engine's events since `since`) that no container uses now
/// (the pip cache container's volumes, which the test container mounts too, stay, as do the
/// kept wheels).
fn assert_the_run_left_nothing(run: &str, since: Duration, out: &str) {
    let label = format!("label=todobackend.run={run}");
    let containers = docker_lines(&["container", "ls", "--all", "--quiet", "--filter", &label]).unwrap();
    let networks = docker_lines(&["network", "ls", "--quiet", "--filter", &label]).unwrap();
    let mut ids = events_since(since, &["type=container", &label], "{{.Actor.ID}}");
    ids.dedup();
    let mounted: Vec<String> = events_since(
        since,
        &["type=volume", "event=mount"],
        "{{.Actor.ID}} {{.Actor.Attributes.container}}",
    )
    .into_iter()
    .filter_map(|line| {
        let (volume, container) = line.split_once(' ')?;
        ids.iter().any(|id| id == container).then(|| volume.to_string())
    })
    .collect();
    let unused = docker_lines(&["volume", "ls", "--quiet", "--filter", "dangling=true"]).unwrap();
    // The wheels every checkout keeps between builds stay by design
    let volumes: Vec<&String> = unused
        .iter()
        .filter(|volume| mounted.contains(volume) && *volume != "todobackend-wheels")
        .collect();
    assert!(
        !ids.is_empty() && containers.is_empty() && networks.is_empty() && volumes.is_empty(),
        "{run} left containers {containers:?}, networks {networks:?}, volumes {volumes:?} (its containers: {ids:?}):\n{out}"
    );
}

#[test]
fn the_labs_workflow_runs_from_a_subdirectory_of_a_checkout_named_with_spaces_dots_and_capitals() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("Todo Backend.v2_x");
    let cwd = copy.root().join("src/todo");
    let dev = format!("{}-dev", copy.prefix());

    let out = xtask_ok(&copy, &cwd, &["dev-image"]);
    assert!(
        out.contains(&format!(
            "$ docker build -t {dev} -f docker/dev/Dockerfile --force-rm --build-arg WHEELS="
        )),
        "{out}"
    );
    assert!(docker_ok(&["image", "inspect", &dev]), "no image {dev}:\n{out}");

    xtask_ok(&copy, &cwd, &["cache"]);
    let out = xtask_ok(&copy, &cwd, &["test"]);
    assert_the_suite_passed(&out);
    assert_the_reports_count_the_tests_that_ran(&copy, tests_ran(&out));
}

#[test]
fn the_cache_container_is_made_once_then_reported_and_keeps_pips_cache_in_its_volume() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("cache");
    let cache = format!("{}-cache", copy.prefix());
    for _ in 0..2 {
        xtask_ok(&copy, copy.root(), &["cache"]);
    }
    let out = xtask_ok(&copy, copy.root(), &["cache"]);
    assert!(out.contains(&format!("`{cache}` exists")), "{out}");
    let mounts = docker_lines(&[
        "container",
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}",
        &cache,
    ])
    .unwrap();
    assert!(mounts.concat().contains(&format!("{cache}:/cache")), "{mounts:?}");
}

#[test]
fn arguments_reach_manage_py_and_an_edit_under_src_is_tested_without_a_rebuild() {
    let Some(_engine) = support::engine() else { return };
    // The local loop: src/ mounted into the container (through a path with a space), not baked.
    let copy = Checkout::copy("Edit Loop.v2_x").env("CI", "false");
    let out = xtask_ok(&copy, copy.root(), &["test", "--", "todo.tests.TestCreateTodoItem"]);
    assert!(tests_ran(&out) >= 4 && tests_ran(&out) < 12, "{out}");
    // A run installs nothing: the requirements are in the image.
    assert!(!out.contains("Collecting "), "{out}");

    copy.write(
        "src/todo/test_edited.py",
        "from django.test import SimpleTestCase\n\n\nclass Edited(SimpleTestCase):\n    def test_runs(self):\n        pass\n",
    );
    let out = xtask_ok(&copy, &copy.root().join("src"), &["test", "--", "todo.test_edited"]);
    assert_eq!(tests_ran(&out), 1, "{out}");
    assert!(out.lines().any(|line| line == "OK"), "{out}");
    assert!(
        !out.contains("$ docker build"),
        "the edit was rebuilt into the image:\n{out}"
    );
}

#[test]
fn the_test_settings_run_against_a_database_that_is_gone_after() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("settings-test");
    let started = unix_time();
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test"]);
    assert_the_suite_passed(&out);
    assert_the_reports_count_the_tests_that_ran(&copy, tests_ran(&out));

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
    assert_the_run_left_nothing(&run, started, &out);
    // The passwords were fresh and never printed.
    assert!(out.contains("MYSQL_PASSWORD=*** "), "{out}");
    assert!(!out.contains("MYSQL_PASSWORD=password"), "{out}");
}

/// The tests junit.xml lists, one `classname.name` each, sorted.
fn junit_testcases(copy: &Checkout) -> Vec<String> {
    let junit = fs::read_to_string(copy.root().join("target/reports/junit.xml")).expect("target/reports/junit.xml");
    let attribute = |element: &str, name: &str| {
        let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(element[start..].split('"').next()?.to_string())
    };
    let mut cases: Vec<String> = junit
        .split("<testcase ")
        .skip(1)
        .map(|case| {
            let element = case.split('>').next().unwrap();
            format!(
                "{}.{}",
                attribute(element, "classname").unwrap_or_default(),
                attribute(element, "name").unwrap_or_default()
            )
        })
        .collect();
    cases.sort();
    cases
}

/// The lines of `file` that coverage.xml says ran.
fn covered_lines(copy: &Checkout, file: &str) -> Vec<u32> {
    let coverage =
        fs::read_to_string(copy.root().join("target/reports/coverage.xml")).expect("target/reports/coverage.xml");
    let class = coverage
        .split("<class ")
        .find(|class| class.contains(&format!(" filename=\"{file}\"")))
        .unwrap_or_else(|| panic!("no {file} in coverage.xml:\n{coverage}"));
    class
        .split("<line ")
        .skip(1)
        .filter(|line| !line.contains("hits=\"0\""))
        .map(|line| line.split('"').nth(1).unwrap().parse().unwrap())
        .collect()
}

/// Runs the suite with `settings` serially, then in two worker processes: the same tests pass,
/// junit.xml lists each of them, and coverage.xml has what the workers ran (todo/views.py's
/// `destroy_all` runs only in a worker).
fn two_workers_run_the_suite_the_serial_run_runs(name: &str, settings: &str) {
    let copy = Checkout::copy(name);
    let serial = xtask_ok(&copy, copy.root(), &["test", "--settings", settings]);
    assert_the_suite_passed(&serial);
    let (cases, lines) = (junit_testcases(&copy), covered_lines(&copy, "todo/views.py"));
    assert_eq!(cases.len(), tests_ran(&serial), "{cases:?}\n{serial}");

    let parallel = xtask_ok(
        &copy,
        copy.root(),
        &["test", "--settings", settings, "--", "--parallel", "2"],
    );
    assert_the_suite_passed(&parallel);
    assert_eq!(
        parallel.matches("Cloning test database for alias 'default'...").count(),
        2,
        "{parallel}"
    );
    assert_eq!(tests_ran(&parallel), tests_ran(&serial), "{parallel}");
    assert_eq!(junit_testcases(&copy), cases, "{parallel}");
    assert_eq!(covered_lines(&copy, "todo/views.py"), lines, "{parallel}");
}

#[test]
fn two_workers_run_the_whole_suite_with_the_base_settings_and_the_reports_miss_nothing() {
    let Some(_engine) = support::engine() else { return };
    two_workers_run_the_suite_the_serial_run_runs("parallel-base", "base");
}

#[test]
fn two_workers_run_the_whole_suite_on_the_database_and_the_reports_miss_nothing() {
    let Some(_engine) = support::engine() else { return };
    two_workers_run_the_suite_the_serial_run_runs("parallel-test", "test");
}

#[test]
fn keepdb_twice_with_the_test_settings_passes() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("keepdb");
    for _ in 0..2 {
        let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test", "--", "--keepdb"]);
        assert_the_suite_passed(&out);
        assert!(out.contains("Preserving test database for alias 'default'..."), "{out}");
        assert_the_reports_count_the_tests_that_ran(&copy, tests_ran(&out));
    }
}

#[test]
fn the_test_settings_make_a_test_database_of_their_own_and_never_find_one_there() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("test-database");
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test"]);
    assert_the_suite_passed(&out);
    assert!(out.contains("Creating test database for alias 'default'..."), "{out}");
    let complaints: Vec<&str> = out
        .lines()
        .filter(|line| line.contains("database exists") || line.contains("Got an error creating the test database"))
        .collect();
    assert_eq!(complaints, Vec::<&str>::new(), "{out}");
}

/// Sends `signal` to a run once its database is up: it stops within seconds with `code`,
/// and what it made is gone.
fn a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing(name: &str, signal: i32, code: i32) {
    let copy = Checkout::copy(name);
    let started = unix_time();
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line("s after `docker run`", DATABASE_READY_WITHIN);
    signal_process(run.pid(), signal);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(15));
    let out = finished.output();
    assert!(
        finished.ended - sent < Duration::from_secs(15),
        "signal {signal}: {}:\n{out}",
        finished.how()
    );
    assert_eq!(
        finished.code(),
        Some(code),
        "signal {signal}: {}:\n{out}",
        finished.how()
    );
    assert!(out.contains("interrupted by SIG"), "{out}");
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

#[test]
fn ctrl_c_once_the_database_is_up_stops_the_run_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing("sigint", SIGINT, 130);
}

#[test]
fn sigterm_once_the_database_is_up_stops_the_run_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    a_signal_once_the_database_is_up_stops_the_run_and_leaves_nothing("sigterm", SIGTERM, 143);
}

#[test]
fn two_checkouts_run_the_database_tests_at_once() {
    let Some(_engine) = support::engine() else { return };
    // Two clones of the project: the same images and pip cache, runs of their own. The pip
    // cache is there before, as it is for two checkouts of one user. (Two first runs making it
    // at once can race: `docker run --name` conflicts before the other's container shows.)
    // Each in the developer's loop, through a warm worker of its own (CI would bake the source).
    let one = Checkout::copy("concurrent-one").env("CI", "false");
    let two = Checkout::beside(&one, "concurrent-two").env("CI", "false");
    xtask_ok(&one, one.root(), &["cache"]);
    let runs = [&one, &two].map(|copy| Running::start(copy.xtask(&["test", "--settings", "test"])));
    let finished: Vec<Finished> = runs.into_iter().map(|run| run.finish(A_RUN_ENDS_WITHIN)).collect();
    let mut names = Vec::new();
    for run in &finished {
        let out = run.output();
        assert_eq!(run.code(), Some(0), "{}:\n{out}", run.how());
        assert_the_suite_passed(&out);
        names.push(run_name(&out));
    }
    assert_ne!(names[0], names[1]);
    // Each has a worker of its own; the first's goes first, as the second's cleanup (which
    // goes first) would find the first's, of the same names, still using their pip cache.
    assert_eq!(support::the_worker(&one).len(), 2);
    assert_eq!(support::the_worker(&two).len(), 2);
    assert_ne!(support::the_worker(&one), support::the_worker(&two));
    xtask_ok(&one, one.root(), &["clean"]);
}

#[test]
fn a_database_that_never_gets_ready_fails_clearly_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("never-ready");
    // The database image, with a server that never starts: the readiness probe is the real one.
    let db = fs::read_to_string(copy.root().join("docker/db/Dockerfile")).unwrap();
    copy.write(
        "docker/db/never-ready.Dockerfile",
        &format!("{db}\nENTRYPOINT [\"sh\", \"-c\", \"echo 'e2e: this server never starts'; exec sleep 600\"]\n"),
    );
    let never_ready = format!("{}-never-ready", copy.prefix());
    copy.edit("Cargo.toml", |manifest| {
        manifest
            .replace(
                &format!("image = \"{}-db\"", copy.prefix()),
                &format!("image = \"{never_ready}\""),
            )
            .replace(
                "dockerfile = \"docker/db/Dockerfile\"",
                "dockerfile = \"docker/db/never-ready.Dockerfile\"",
            )
            .replace("ready_timeout_secs = 60", "ready_timeout_secs = 3")
    });

    let started = unix_time();
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    let (waiting, _) = run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    let finished = run.finish(Duration::from_secs(60));
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(
        finished.ended - waiting < Duration::from_secs(30),
        "{:?} from `=> Waiting for` to the end:\n{out}",
        finished.ended - waiting
    );
    assert!(out.contains("was not ready after 3 s"), "{out}");
    assert!(
        out.contains("e2e: this server never starts"),
        "the log tail is shown:\n{out}"
    );
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

#[test]
fn a_failing_test_makes_the_task_fail() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("failing");
    copy.write(
        "src/todo/test_made_to_fail.py",
        "from django.test import SimpleTestCase\n\n\nclass MadeToFail(SimpleTestCase):\n    def test_fails(self):\n        self.assertEqual(1, 2)\n",
    );
    let mut test = copy.xtask(&["test"]);
    test.current_dir(copy.root().join("src"));
    let finished = run_to_end(test, A_RUN_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(out.contains("FAILED (failures=1)"), "{out}");
    assert!(out.contains("The test run failed with exit code 1"), "{out}");
}

#[test]
fn a_dry_run_prints_the_commands_and_makes_nothing_on_the_engine() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("dry-run");
    let started = unix_time();
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test", "--dry-run"]);
    assert!(
        out.contains("$ MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach"),
        "{out}"
    );
    assert!(
        out.contains(&format!("$ docker rm --force --volumes {}-", copy.prefix())),
        "{out}"
    );
    // Whatever the copy would have made carries its names or its path: tests beside this one
    // make things of their own meanwhile.
    let root = copy.root().display().to_string();
    let made: Vec<String> = events_since(started, &[], "{{json .}}")
        .into_iter()
        .filter(|event| event.contains(copy.prefix()) || event.contains(&root))
        .collect();
    assert_eq!(made, Vec::<String>::new());
    assert_eq!(copy.on_the_engine(), Vec::<String>::new());
}

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

/// Runs `cargo xtask test` in `copy` under `script`, which gives it a terminal.
fn on_a_terminal(copy: &Checkout, no_color: bool) -> String {
    let mut command = copy.command("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(format!("{} test", env!("CARGO_BIN_EXE_xtask")))
        .arg("/dev/null")
        .env_remove("NO_COLOR");
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{out}");
    out
}

#[test]
fn the_output_has_colour_on_a_terminal_and_none_with_no_color() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("colour");
    assert!(on_a_terminal(&copy, false).contains("\x1b["));
    let plain = on_a_terminal(&copy, true);
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

#[test]
fn the_wheels_install_offline_and_pass_the_apps_tests() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("wheels");
    for task in ["build", "base-image"] {
        xtask_ok(&copy, copy.root(), &[task]);
    }
    let wheels = copy.root().join("target/wheels");
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
    // The dev image they were made in: mysqldump, taken from mariadb-client's package as the
    // rest installs, and no apt lists or packages left (its RUN removes them, not the script)
    let dev = format!("{}-dev", copy.prefix());
    let script =
        "mysqldump --version && find /var/lib/apt/lists /var/cache/apt -type f ! -name lock | sed 's/^/left: /'";
    let inside = copy
        .docker_lines(&["run", "--rm", "--entrypoint", "sh", &dev, "-c", script])
        .unwrap();
    assert!(inside.iter().any(|line| line.starts_with("mysqldump ")), "{inside:?}");
    assert!(!inside.iter().any(|line| line.starts_with("left: ")), "{inside:?}");
    // A fresh venv with no network: only the wheels.
    let mount = format!("{}:/wheels:ro", wheels.display());
    let script = "python3 -m venv /tmp/venv && /tmp/venv/bin/pip install --no-index --find-links /wheels todobackend \
                  && cd /tmp && /tmp/venv/bin/python -m django test todo --settings todobackend.settings.base";
    let base = format!("{}-base", copy.prefix());
    let output = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &mount,
            "--entrypoint",
            "sh",
            &base,
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{out}");
    assert_the_suite_passed(&out);
}

#[test]
fn clean_all_images_leaves_nothing_of_the_checkout_on_the_engine_but_the_shared_os_image() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("clean");
    let os_images = || {
        ["debian:bookworm-slim", "todobackend-os:bookworm"]
            .into_iter()
            .filter(|image| docker_ok(&["image", "inspect", image]))
            .collect::<Vec<_>>()
    };
    xtask_ok(&copy, copy.root(), &["test", "--settings", "test"]);
    xtask_ok(&copy, copy.root(), &["base-image"]);
    // A requirements change (a comment: no new wheel) rebuilds the dev image on the same
    // `tools` image, and leaves the one before it dangling: a build of this checkout's,
    // whose layers extend those of another one of its builds, the tools stage.
    copy.edit("src/requirements.txt", |text| format!("{text}# rebuilt\n"));
    xtask_ok(&copy, copy.root(), &["test"]);
    let os = os_images();
    let made = copy.on_the_engine();
    for kind in ["dev", "tools", "base", "db"] {
        let image = format!("image {}-{kind}:latest", copy.prefix());
        assert!(made.contains(&image), "no {image} in {made:?}");
    }
    let dangling = |listed: &[String]| listed.iter().filter(|line| line.starts_with("image sha256:")).count();
    assert!(dangling(&made) > 0, "no dangling image after the rebuild: {made:?}");

    // `clean --all` removes the dangling ones (the pip cache first, made from the first dev
    // image); the named images stay.
    let out = xtask_ok(&copy, copy.root(), &["clean", "--all"]);
    let left = copy.on_the_engine();
    assert_eq!(dangling(&left), 0, "{left:?}\n{out}");
    assert!(
        left.contains(&format!("image {}-dev:latest", copy.prefix())),
        "{left:?}"
    );

    let out = xtask_ok(&copy, copy.root(), &["clean", "--all", "--images"]);
    assert!(out.contains("Removing "), "{out}");
    assert_eq!(copy.on_the_engine(), Vec::<String>::new(), "{out}");
    assert!(
        !os.is_empty() && os_images() == os,
        "{os:?} before, {:?} after:\n{out}",
        os_images()
    );
    let out = xtask_ok(&copy, copy.root(), &["clean", "--all"]);
    assert!(out.contains("Nothing of this checkout's runs is left"), "{out}");
}

/// Builds, with docker itself, an image FROM `base` under `tag` (with `line` in a file of its
/// own); its id.
fn someone_builds(base: &str, tag: &str, line: &str) -> String {
    let dockerfile = format!("FROM {base}\nRUN echo '{line}' > /someone\n");
    let mut build = Command::new("docker")
        .args(["build", "--quiet", "-t", tag, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    build.stdin.take().unwrap().write_all(dockerfile.as_bytes()).unwrap();
    let built = build.wait_with_output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    String::from_utf8_lossy(&built.stdout).trim().to_string()
}

#[test]
fn clean_leaves_the_images_someone_built_from_the_checkouts_even_left_dangling() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("someones");
    xtask_ok(&copy, copy.root(), &["test"]);
    // Built FROM the dev image and FROM the tools image (with their labels, the checkout's
    // too), each built again under its tag: the first is left dangling, as a rebuild here
    // leaves one.
    let mut theirs = Vec::new();
    for kind in ["dev", "tools"] {
        let (base, tag) = (
            format!("{}-{kind}", copy.prefix()),
            format!("{}-someone-{kind}", copy.prefix()),
        );
        theirs.push(someone_builds(&base, &tag, "first"));
        someone_builds(&base, &tag, "again");
        assert!(docker_ok(&["rmi", &tag]));
    }
    let out = xtask_ok(&copy, copy.root(), &["clean", "--all"]);
    let gone: Vec<&String> = theirs
        .iter()
        .filter(|id| !docker_ok(&["image", "inspect", id]))
        .collect();
    for id in &theirs {
        docker_ok(&["rmi", id]);
    }
    assert!(gone.is_empty(), "`clean --all` removed {gone:?} of {theirs:?}:\n{out}");
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

// ---------------------------------------------------------------------------------------
// `cargo xtask manage`

/// Runs `cargo xtask manage ARGS` in `copy` without a terminal (stdin null) to its end.
fn manage(copy: &Checkout, args: &[&str]) -> Finished {
    let mut all = vec!["manage"];
    all.extend(args);
    run_to_end(copy.xtask(&all), A_RUN_ENDS_WITHIN)
}

#[test]
fn manage_check_runs_in_the_dev_container_and_exits_0() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-check");
    let finished = manage(&copy, &["--", "check"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains("System check identified no issues"), "{out}");
    assert!(out.contains(":/application "), "src/ was not mounted:\n{out}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{out}");
}

#[test]
fn a_failing_manage_command_makes_the_task_fail_with_its_exit_code() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-fails");
    // Django exits 1 for a command it does not know...
    let finished = manage(&copy, &["--", "no_such_command"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(out.contains("Unknown command: 'no_such_command'"), "{out}");
    assert!(out.contains("failed with exit code 1"), "{out}");
    // Whatever the code, it is forwarded as it is.
    let finished = manage(&copy, &["--", "shell", "-c", "import sys; sys.exit(7)"]);
    assert_eq!(finished.code(), Some(7), "{}:\n{}", finished.how(), finished.output());
}

#[test]
fn makemigrations_writes_a_migration_into_src_owned_by_the_user_who_ran_it() {
    use std::os::unix::fs::MetadataExt;
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("makemigrations");
    copy.edit("src/todo/models.py", |models| {
        models.replace("    order = ", "    notes = models.TextField(blank=True)\n    order = ")
    });
    let finished = manage(&copy, &["--", "makemigrations", "todo"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    let migrations = copy.root().join("src/todo/migrations");
    let made: Vec<_> = fs::read_dir(&migrations)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("0002_"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}\n{out}");
    let text = fs::read_to_string(&made[0]).unwrap();
    assert!(text.contains("name='notes'"), "{text}");
    let me = fs::metadata("/proc/self").unwrap();
    let owner = fs::metadata(&made[0]).unwrap();
    assert_eq!(
        (owner.uid(), owner.gid()),
        (me.uid(), me.gid()),
        "{}",
        made[0].display()
    );
    // Editable without sudo.
    fs::OpenOptions::new().append(true).open(&made[0]).unwrap();
}

#[test]
fn manage_migrate_with_the_test_settings_runs_against_a_database_that_is_gone_after() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-migrate");
    let started = unix_time();
    let finished = manage(&copy, &["--settings", "test", "--", "migrate", "--noinput"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains("Applying todo.0001_initial... OK"), "{out}");
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

#[test]
fn manage_shell_on_a_terminal_is_interactive() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e", "manage -- shell") else {
        return;
    };
    let copy = Checkout::copy("manage-shell");
    // The run, then its exit code, on a real terminal; the pane stays to be read.
    let script = format!(
        "cd '{root}' && CARGO_MANIFEST_DIR='{root}/xtask' NO_COLOR=1 '{xtask}' manage -- shell; \
         echo \"exit code $?\"; sleep 600",
        root = copy.root().display(),
        xtask = env!("CARGO_BIN_EXE_xtask"),
    );
    tmux.start("manage", &script);
    tmux.wait_for("manage", |line| line.starts_with(">>>"), A_RUN_ENDS_WITHIN);
    let keys = |keys: &str| tmux.keys("manage", &[keys, "Enter"]);
    keys("print(6*7)");
    tmux.wait_for("manage", |line| line.trim() == "42", Duration::from_secs(20));
    // Ctrl-C is the shell's, through the terminal: Python's KeyboardInterrupt, and the run goes on.
    tmux.keys("manage", &["C-c"]);
    tmux.wait_for(
        "manage",
        |line| line.contains("KeyboardInterrupt"),
        Duration::from_secs(20),
    );
    keys("print(7*6+1)");
    tmux.wait_for("manage", |line| line.trim() == "43", Duration::from_secs(20));
    keys("exit()");
    let shown = tmux.wait_for("manage", |line| line.starts_with("exit code "), Duration::from_secs(60));
    assert!(shown.lines().any(|line| line.trim() == "exit code 0"), "{shown}");
    assert!(shown.contains("docker start --attach --interactive"), "{shown}");
}

#[test]
fn sigterm_during_manage_shell_ends_the_run_puts_the_terminal_back_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-sigterm", "manage -- shell") else {
        return;
    };
    let copy = Checkout::copy("manage-shell-sigterm");
    let pid_file = copy.root().join("xtask.pid");
    // The xtask's pid, then its exit code and whether the terminal is back in cooked mode.
    let script = format!(
        "cd '{root}' && CARGO_MANIFEST_DIR='{root}/xtask' NO_COLOR=1 sh -c 'echo $$ > \"$0\"; exec \"$1\" manage -- shell' \
         '{pid}' '{xtask}'; echo \"exit code $?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\{{0,1\\}}icanon'; sleep 600",
        root = copy.root().display(),
        pid = pid_file.display(),
        xtask = env!("CARGO_BIN_EXE_xtask"),
    );
    tmux.start("manage", &script);
    tmux.wait_for("manage", |line| line.starts_with(">>>"), A_RUN_ENDS_WITHIN);
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    signal_process(pid, SIGTERM);
    let shown = tmux.wait_for(
        "manage",
        |line| line.trim().ends_with("icanon"),
        Duration::from_secs(30),
    );
    assert!(shown.lines().any(|line| line.trim() == "exit code 143"), "{shown}");
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}

#[test]
fn a_user_other_than_root_gets_the_migration_as_their_own_through_docker_run_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-as-user");
    // The tests run as root: an `id` first on PATH says the user is 1234:1234, whose checkout
    // src/ is theirs, as on a developer's machine.
    let bin = copy.root().join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(
        bin.join("id"),
        "#!/bin/sh\ncase \"$1\" in -u|-g) echo 1234 ;; *) exec /usr/bin/id \"$@\" ;; esac\n",
    )
    .unwrap();
    fs::set_permissions(bin.join("id"), fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "1234:1234"])
        .arg(copy.root().join("src"))
        .status()
        .unwrap();
    assert!(chown.success());
    copy.edit("src/todo/models.py", |models| {
        models.replace("    order = ", "    notes = models.TextField(blank=True)\n    order = ")
    });
    let mut xtask = copy.xtask(&["manage", "--", "makemigrations", "todo"]);
    xtask.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    let finished = run_to_end(xtask, A_RUN_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains(" --user 1234:1234 "), "{out}");
    let made = fs::read_dir(copy.root().join("src/todo/migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("0002_"))
        .unwrap_or_else(|| panic!("no migration:\n{out}"));
    let owner = fs::metadata(&made).unwrap();
    assert_eq!((owner.uid(), owner.gid()), (1234, 1234), "{}", made.display());
}

#[test]
fn manage_dbshell_reaches_the_settings_database_with_its_client() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-dbshell");
    let finished = manage(
        &copy,
        &[
            "--settings",
            "test",
            "--",
            "dbshell",
            "--",
            "-e",
            "SELECT 6*7 AS answer",
        ],
    );
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.lines().any(|line| line.trim() == "42"), "{out}");
}

#[test]
fn manage_shell_without_a_terminal_never_waits_for_input_even_with_stdin_left_open() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-no-terminal");
    // As in CI: stdin a pipe that nobody writes to or closes.
    let mut child = copy
        .xtask(&["manage", "--", "shell"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _open = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > A_RUN_ENDS_WITHIN {
            let _ = child.kill();
            panic!("`manage -- shell` without a terminal waited for input");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}");
}

/// A test of the copy's `todo.tests` that stops at a `breakpoint()`: `todo.tests.Debugged`.
fn add_a_test_with_a_breakpoint(copy: &Checkout) {
    copy.edit("src/todo/tests.py", |tests| {
        format!(
            "{tests}\n\nclass Debugged(APITestCase):\n    def test_stops_at_a_breakpoint(self):\n        \
             answer = 6 * 7\n        breakpoint()\n        self.assertEqual(answer, 42)\n"
        )
    });
}

#[test]
fn a_breakpoint_in_a_test_on_a_terminal_stops_in_pdb_and_continuing_finishes_the_run() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-pdb", "test") else {
        return;
    };
    // The developer's loop: the suite forked by the warm worker (CI would bake the source)
    let copy = Checkout::copy("test-pdb").env("CI", "false");
    add_a_test_with_a_breakpoint(&copy);
    // The run, then its exit code and whether the terminal is back in cooked mode.
    let script = format!(
        "cd '{root}' && CI=false CARGO_MANIFEST_DIR='{root}/xtask' NO_COLOR=1 '{xtask}' test -- todo.tests.Debugged; \
         echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\{{0,1\\}}icanon'; sleep 600",
        root = copy.root().display(),
        xtask = env!("CARGO_BIN_EXE_xtask"),
    );
    tmux.start("pdb", &script);
    tmux.wait_for("pdb", |line| line.starts_with("(Pdb)"), A_RUN_ENDS_WITHIN);
    let keys = |keys: &str| tmux.keys("pdb", &[keys, "Enter"]);
    keys("p answer");
    tmux.wait_for("pdb", |line| line.trim() == "42", Duration::from_secs(20));
    keys("p 7*6+1");
    tmux.wait_for("pdb", |line| line.trim() == "43", Duration::from_secs(20));
    keys("c");
    let shown = tmux.wait_for("pdb", |line| line.trim().ends_with("icanon"), Duration::from_secs(120));
    assert!(shown.lines().any(|line| line.trim() == "EXIT=0"), "{shown}");
    assert!(shown.contains("docker exec --interactive --tty"), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("Ran 1 test")), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("=> Took ")), "{shown}");
    assert!(
        shown.contains("=> Reports (junit.xml, coverage.xml) are in target/reports/"),
        "{shown}"
    );
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    assert_the_reports_count_the_tests_that_ran(&copy, 1);
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}

#[test]
fn a_breakpoint_in_a_test_without_a_terminal_reads_end_of_file_and_the_run_ends() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("test-pdb-no-terminal");
    add_a_test_with_a_breakpoint(&copy);
    // stdin null: pdb gets no terminal and no input, so it quits the test rather than waits.
    let finished = run_to_end(copy.xtask(&["test", "--", "todo.tests.Debugged"]), A_RUN_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(!out.contains("--interactive") && !out.contains("--tty"), "{out}");
    assert!(out.lines().any(|line| line.starts_with("Ran 1 test")), "{out}");
    assert!(out.contains("BdbQuit"), "{out}");
    assert!(out.contains("The test run failed with exit code 1"), "{out}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{out}");
}

#[test]
fn ctrl_c_during_a_test_run_on_a_terminal_stops_the_suite_and_the_run_cleans_up() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-ctrl-c", "test") else {
        return;
    };
    let copy = Checkout::copy("test-ctrl-c-terminal").env("CI", "false");
    copy.edit("src/todo/tests.py", |tests| {
        format!(
            "{tests}\n\nclass Slow(APITestCase):\n    def test_sleeps(self):\n        \
             import time\n        print('sleeping', flush=True)\n        time.sleep(600)\n"
        )
    });
    let script = format!(
        "cd '{root}' && CI=false CARGO_MANIFEST_DIR='{root}/xtask' NO_COLOR=1 '{xtask}' test -- todo.tests.Slow; \
         echo \"EXIT=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\{{0,1\\}}icanon'; sleep 600",
        root = copy.root().display(),
        xtask = env!("CARGO_BIN_EXE_xtask"),
    );
    tmux.start("slow", &script);
    tmux.wait_for("slow", |line| line.trim() == "sleeping", A_RUN_ENDS_WITHIN);
    // Ctrl-C is the suite's, through the terminal, as Django has it: the first lets the
    // running test finish, the second stops the suite at once. The run then reports and
    // cleans up as after any failed run.
    for _ in 0..2 {
        tmux.keys("slow", &["C-c"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    let shown = tmux.wait_for("slow", |line| line.trim().ends_with("icanon"), Duration::from_secs(60));
    assert!(shown.lines().any(|line| line.trim() == "EXIT=130"), "{shown}");
    assert!(shown.contains("The test run failed with exit code 130"), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("=> Took ")), "{shown}");
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}
