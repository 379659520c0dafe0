//! The suite, as a newcomer runs it: the lab's workflow from a subdirectory, the cache container,
//! arguments for manage.py and an edit tested without a rebuild, a failing test, and two worker
//! processes whose reports miss nothing of what the serial run reports.

use std::fs;

use crate::support;
use crate::support::{A_RUN_ENDS_WITHIN, Checkout, docker_lines, docker_ok, run_to_end, tests_ran};
use crate::{assert_the_reports_count_the_tests_that_ran, assert_the_suite_passed, xtask_ok};

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
