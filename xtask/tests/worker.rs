//! The developer's loop through the warm worker, end to end on the real engine: every run
//! tests exactly the source on disk, whatever was edited, added or deleted, and the worker is
//! the checkout's: listed by `doctor`, replaced when what it was started from changes,
//! removed by `clean`, and it survives a run that was stopped. Each copy says `CI=false`:
//! under CI the xtask bakes the source and uses no worker.

mod support;

use std::time::Duration;

use support::{
    A_RUN_ENDS_WITHIN, Checkout, Finished, Running, SIGINT, left_on_engine, run_to_end, signal_process, tests_ran,
};

fn developer_s(name: &str) -> Checkout {
    Checkout::copy(name).env("CI", "false")
}

fn test(copy: &Checkout, args: &[&str]) -> Finished {
    run_to_end(copy.xtask(&[&["test"], args].concat()), A_RUN_ENDS_WITHIN)
}

/// Runs the suite; asserts it exits `code`. All it printed.
fn expect(copy: &Checkout, args: &[&str], code: i32, why: &str) -> String {
    let finished = test(copy, args);
    let out = finished.output();
    assert_eq!(finished.code(), Some(code), "{why}: {}:\n{out}", finished.how());
    out
}

/// Applies `edit` to `file`, expects the next run to fail, puts the file back, and expects
/// the one after to pass: neither starts a worker.
fn a_breaking_edit_shows_then_its_undoing(copy: &Checkout, file: &str, edit: impl FnOnce(&str) -> String) {
    let before = std::fs::read_to_string(copy.root().join(file)).unwrap();
    copy.edit(file, edit);
    let out = expect(copy, &[], 1, &format!("the run after breaking {file}"));
    assert!(out.contains("FAILED (") || out.contains("Error"), "{out}");
    assert!(!out.contains("Starting the test worker"), "{out}");
    copy.write(file, &before);
    let out = expect(copy, &[], 0, &format!("the run after {file} was put back"));
    assert!(out.lines().any(|line| line == "OK"), "{out}");
    assert!(!out.contains("Starting the test worker"), "{out}");
}

#[test]
fn every_edit_under_src_shows_in_the_very_next_run() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-edits");
    let out = expect(&copy, &[], 0, "the first run");
    assert!(out.contains("Starting the test worker"), "{out}");
    let suite = tests_ran(&out);
    assert!(
        copy.root().join("target/reports/junit.xml").is_file()
            && copy.root().join("target/reports/coverage.xml").is_file(),
        "{out}"
    );

    // A view, a model and the settings, each broken then mended
    a_breaking_edit_shows_then_its_undoing(&copy, "src/todo/views.py", |views| {
        views.replace(
            "queryset = TodoItem.objects.all()",
            "queryset = TodoItem.objects.none()",
        )
    });
    a_breaking_edit_shows_then_its_undoing(&copy, "src/todo/models.py", |models| {
        models.replace(
            "completed = models.BooleanField(default=False)",
            "completed = models.BooleanField(default=True)",
        )
    });
    a_breaking_edit_shows_then_its_undoing(&copy, "src/todobackend/settings/base.py", |settings| {
        format!("{settings}\nCORS_ALLOW_ALL_ORIGINS = False\n")
    });

    // A migration added (one that fails), then deleted
    let migration = "src/todo/migrations/0002_broken.py";
    copy.write(
        migration,
        "from django.db import migrations\n\n\ndef fail(apps, schema_editor):\n    raise RuntimeError('a broken migration ran')\n\n\n\
         class Migration(migrations.Migration):\n    dependencies = [('todo', '0001_initial')]\n    \
         operations = [migrations.RunPython(fail)]\n",
    );
    let out = expect(&copy, &[], 1, "the run with a broken migration");
    assert!(out.contains("a broken migration ran"), "{out}");
    std::fs::remove_file(copy.root().join(migration)).unwrap();
    expect(&copy, &[], 0, "the run once the migration was deleted");

    // A test module added, then deleted
    let added = "src/todo/test_added.py";
    copy.write(
        added,
        "from django.test import SimpleTestCase\n\n\nclass Added(SimpleTestCase):\n    def test_runs(self):\n        pass\n",
    );
    let out = expect(&copy, &[], 0, "the run with a test module added");
    assert_eq!(tests_ran(&out), suite + 1, "{out}");
    std::fs::remove_file(copy.root().join(added)).unwrap();
    let out = expect(&copy, &[], 0, "the run once it was deleted");
    assert_eq!(tests_ran(&out), suite, "{out}");
    assert!(!out.contains("Starting the test worker"), "{out}");
}

#[test]
fn the_worker_is_listed_replaced_when_what_it_was_started_from_changes_and_removed_by_clean() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-life");
    expect(&copy, &[], 0, "the first run");
    let worker = support::the_worker(&copy);
    assert_eq!(worker.len(), 2, "{worker:?}");
    let doctor = run_to_end(copy.xtask(&["doctor"]), A_RUN_ENDS_WITHIN).output();
    assert!(
        doctor.contains(&format!("test worker: {}", worker.join(", "))),
        "{doctor}"
    );

    // The dev image's inputs changed while a run is in the worker: rebuilt, and the worker
    // replaced; the run in progress ends well in the old one, which then goes
    copy.write(
        "src/todo/test_slow.py",
        "import sys\nimport time\n\nfrom django.test import SimpleTestCase\n\n\nclass Slow(SimpleTestCase):\n    \
         def test_sleeps(self):\n        print('sleeping', file=sys.stderr, flush=True)\n        time.sleep(8)\n",
    );
    let mut slow = Running::start(copy.xtask(&["test", "--", "todo.test_slow"]));
    slow.wait_for_line("sleeping", A_RUN_ENDS_WITHIN);
    copy.edit("scripts/test.sh", |script| format!("{script}# edited\n"));
    let out = expect(&copy, &[], 0, "the run after the dev image's inputs changed");
    assert!(out.contains("$ docker build"), "{out}");
    assert!(out.contains("Replacing the test worker"), "{out}");
    let slow = slow.finish(A_RUN_ENDS_WITHIN);
    assert_eq!(
        slow.code(),
        Some(0),
        "the run in the replaced worker: {}:\n{}",
        slow.how(),
        slow.output()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while support::the_worker(&copy).len() > 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(support::the_worker(&copy).len(), 2, "the retired worker did not go");
    std::fs::remove_file(copy.root().join("src/todo/test_slow.py")).unwrap();

    // src/ made anew (a mount of the old one would show nothing of it)
    let src = copy.root().join("src");
    let old = copy.root().join("src.old");
    std::fs::rename(&src, &old).unwrap();
    assert!(
        std::process::Command::new("cp")
            .arg("-R")
            .arg(&old)
            .arg(&src)
            .status()
            .unwrap()
            .success()
    );
    std::fs::remove_dir_all(&old).unwrap();
    let out = expect(&copy, &[], 0, "the run after src/ was made anew");
    // The old worker, whose src/ went, ends by itself once it notices; if it has not yet, it is replaced.
    assert!(
        out.contains("Replacing the test worker") || out.contains("Starting the test worker"),
        "{out}"
    );
    assert!(out.lines().any(|line| line == "OK"), "{out}");

    let out = run_to_end(copy.xtask(&["clean"]), A_RUN_ENDS_WITHIN).output();
    assert!(out.contains("Removing the test worker"), "{out}");
    assert_eq!(support::the_worker(&copy), Vec::<String>::new(), "{out}");
}

#[test]
fn a_run_stopped_with_ctrl_c_stops_its_suite_in_the_worker_which_serves_the_next_run() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-ctrl-c");
    expect(&copy, &[], 0, "the first run");
    copy.edit("src/todo/tests.py", |tests| {
        format!(
            "{tests}\n\nclass Slow(APITestCase):\n    def test_sleeps(self):\n        \
             import sys, time\n        print('sleeping', file=sys.stderr, flush=True)\n        time.sleep(600)\n"
        )
    });
    let mut run = Running::start(copy.xtask(&["test", "--", "todo.tests.Slow"]));
    run.wait_for_line("sleeping", A_RUN_ENDS_WITHIN);
    signal_process(run.pid(), SIGINT);
    let finished = run.finish(Duration::from_secs(60));
    assert_eq!(finished.code(), Some(130), "{}:\n{}", finished.how(), finished.output());
    assert!(finished.output().contains("suite.py stop"), "{}", finished.output());
    assert_eq!(left_on_engine(&copy), Vec::<String>::new(), "{}", finished.output());

    // Only the worker's own process is left in it: the run's child was stopped
    let worker = support::the_worker(&copy)[0].clone();
    let processes = copy
        .docker_lines(&[
            "exec",
            &worker,
            "sh",
            "-c",
            "for cmd in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $cmd; echo; done",
        ])
        .unwrap();
    let suites: Vec<&String> = processes
        .iter()
        .filter(|line| line.contains("suite.py serve"))
        .collect();
    assert_eq!(suites.len(), 1, "{processes:#?}");

    copy.edit("src/todo/tests.py", |tests| tests.replace("time.sleep(600)", "pass"));
    let out = expect(&copy, &["--", "todo.tests.Slow"], 0, "the run after the stopped one");
    assert!(!out.contains("Starting the test worker"), "{out}");
}

#[test]
fn the_test_settings_run_in_the_worker_against_a_database_of_the_run_s_own_gone_after() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-database");
    for _ in 0..2 {
        let out = expect(&copy, &["--settings", "test"], 0, "a run on the database");
        assert!(out.lines().any(|line| line == "OK"), "{out}");
        assert!(out.contains("suite.py fork"), "{out}");
        assert_eq!(left_on_engine(&copy), Vec::<String>::new(), "{out}");
    }
}

#[test]
fn two_runs_at_once_on_the_database_share_the_worker_s_namespace_each_on_a_port_of_its_own() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-databases");
    expect(
        &copy,
        &["--settings", "test"],
        0,
        "the first run, which makes the images",
    );
    // Both databases up at once: each run's suite holds its own for a few seconds
    copy.write(
        "src/todo/tests_slow.py",
        "import time\n\nfrom django.test import TestCase\n\n\n\
         class Slow(TestCase):\n    def test_sleeps(self):\n        time.sleep(3)\n",
    );
    let runs = [(); 2].map(|()| Running::start(copy.xtask(&["test", "--settings", "test"])));
    let mut ports = Vec::new();
    for run in runs {
        let finished = run.finish(A_RUN_ENDS_WITHIN);
        let out = finished.output();
        assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
        assert!(out.contains(" --network container:"), "{out}");
        let port = out
            .split_once(" -e MYSQL_PORT=")
            .and_then(|(_, rest)| rest.split_once(' '));
        ports.push(port.unwrap_or_else(|| panic!("no MYSQL_PORT:\n{out}")).0.to_string());
    }
    assert_ne!(ports[0], ports[1]);
    assert_eq!(left_on_engine(&copy), Vec::<String>::new());
}

#[test]
fn two_runs_at_once_in_one_checkout_share_the_worker_they_start() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-race");
    // The images and the cache first: the race is the worker's
    run_to_end(copy.xtask(&["cache"]), A_RUN_ENDS_WITHIN);
    let runs = [(); 2].map(|()| Running::start(copy.xtask(&["test"])));
    for run in runs {
        let finished = run.finish(A_RUN_ENDS_WITHIN);
        assert_eq!(finished.code(), Some(0), "{}:\n{}", finished.how(), finished.output());
    }
    assert_eq!(support::the_worker(&copy).len(), 2);
}

/// Pins `sqlparse` to `version` in the copy's requirements, with a test that passes only
/// where that version is the one installed.
fn pin_sqlparse(copy: &Checkout, version: &str) {
    copy.edit("src/requirements.txt", |requirements| {
        let pinned: Vec<String> = requirements
            .lines()
            .map(|line| match line.starts_with("sqlparse==") {
                true => format!("sqlparse=={version}"),
                false => line.to_string(),
            })
            .collect();
        pinned.join("\n") + "\n"
    });
    copy.write(
        "src/todo/test_pins.py",
        &format!(
            "import sqlparse\nfrom django.test import SimpleTestCase\n\n\nclass Pins(SimpleTestCase):\n    \
             def test_sqlparse_is_the_pinned_version(self):\n        self.assertEqual(sqlparse.__version__, '{version}')\n"
        ),
    );
}

#[test]
fn a_requirement_moved_to_a_version_used_before_is_installed_from_the_kept_wheels_with_no_index() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("worker-requirements");
    let original = std::fs::read_to_string(copy.root().join("src/requirements.txt")).unwrap();
    assert!(original.contains("sqlparse==0.6.1\n"), "{original}");
    // Each version once, so the engine has made (or fetched) the wheels of both
    for version in ["0.6.0", "0.6.1"] {
        pin_sqlparse(&copy, version);
        let out = expect(
            &copy,
            &["--", "todo.test_pins"],
            0,
            &format!("the run on sqlparse {version}"),
        );
        assert_eq!(tests_ran(&out), 1, "{out}");
    }
    // Then back to the other: the image is rebuilt with that version, from the kept wheels
    // alone (made in the tools the image was built on: no build of that stage), and the
    // worker replaced
    pin_sqlparse(&copy, "0.6.0");
    let out = expect(
        &copy,
        &["--", "todo.test_pins"],
        0,
        "the run moved back to sqlparse 0.6.0",
    );
    assert!(out.contains("$ docker build"), "{out}");
    assert!(!out.contains("$ docker build --target tools"), "{out}");
    assert!(
        out.contains("every requirement's wheel was kept from an earlier build: none fetched"),
        "{out}"
    );
    assert!(out.contains("Replacing the test worker"), "{out}");
}
