//! `cargo xtask release` end to end, as a user runs it: the real engine builds the wheels and
//! the release image, runs it with a real database, and the acceptance tests call it over
//! HTTP. Each scenario on a copy of the checkout of its own, under names of its own
//! (`support::Checkout`), whose drop fails the test if anything of it is left on the engine.

mod support;

use std::fs;
use std::time::{Duration, Instant};

use support::{Checkout, Finished, Running, SIGINT, left_on_engine, run_name, run_to_end, signal_process};

/// A release builds four images and runs the suite of acceptance tests: a bound only, so a
/// broken run fails instead of hanging.
const A_RELEASE_ENDS_WITHIN: Duration = Duration::from_secs(600);

fn release(copy: &Checkout, args: &[&str]) -> Finished {
    let mut all = vec!["release"];
    all.extend(args);
    run_to_end(copy.xtask(&all), A_RELEASE_ENDS_WITHIN)
}

fn acceptance_report(copy: &Checkout) -> String {
    let path = copy.root().join("target/reports/acceptance.xml");
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The image's label `key`.
fn label(copy: &Checkout, image: &str, key: &str) -> String {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    copy.docker_lines(&["image", "inspect", "--format", &format, image])
        .unwrap()
        .concat()
}

#[test]
fn release_passes_the_acceptance_tests_leaves_their_report_and_removes_its_environment() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release");
    let finished = release(&copy, &[]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());

    // Every step echoed, the app proved healthy before the tests ran.
    for step in [
        "=> Building wheels",
        "=> Building the release image",
        "$ docker create --name",
        "django-admin migrate --noinput",
        "=> Waiting for",
        "=> Running the acceptance tests",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }
    let report = acceptance_report(&copy);
    assert!(report.matches("<testcase ").count() >= 20, "{report}");
    assert!(!report.contains("<failure") && !report.contains("<error"), "{report}");
    for spec in [
        "test_can_create_a_todo_with_an_order_field",
        "test_a_preflight_for_a_patch_of_a_todo_is_allowed",
        "test_an_unknown_todo_is_404_for_every_method",
    ] {
        assert!(report.contains(spec), "{spec} not in {report}");
    }
    assert!(
        left_on_engine(&copy).is_empty(),
        "left: {:?}\n{out}",
        left_on_engine(&copy)
    );

    // The image as a user inspects it: its version, not root, and within 30 MB of the base.
    let image = format!("{}-release", copy.prefix());
    assert_eq!(label(&copy, &image, "org.opencontainers.image.version"), "unknown");
    assert!(
        label(&copy, &image, "org.opencontainers.image.created").starts_with("20"),
        "{out}"
    );
    let user = copy
        .docker_lines(&["image", "inspect", "--format", "{{.Config.User}}", &image])
        .unwrap()
        .concat();
    assert!(!user.is_empty() && !user.starts_with("0") && user != "root", "{user}");
    let size = |image: &str| -> u64 {
        copy.docker_lines(&["image", "inspect", "--format", "{{.Size}}", image])
            .unwrap()
            .concat()
            .parse()
            .unwrap()
    };
    let base = format!("{}-base", copy.prefix());
    let grown = size(&image) - size(&base);
    assert!(
        grown <= 30_000_000,
        "the release image is {grown} bytes bigger than the base"
    );
}

#[test]
fn a_serializer_that_drops_order_fails_release_with_a_report_naming_the_failing_tests() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-broken");
    copy.edit("src/todo/serializers.py", |serializer| {
        serializer.replace(
            "fields = ['url', 'title', 'completed', 'order']",
            "fields = ['url', 'title', 'completed']",
        )
    });
    let finished = release(&copy, &[]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    // The run's output names each failing test, as its report does.
    assert!(
        out.lines()
            .any(|line| line.starts_with("FAIL") && line.contains("test_can_create_a_todo_with_an_order_field")),
        "{out}"
    );
    assert!(out.contains("The acceptance tests failed with exit code 1"), "{out}");
    let report = acceptance_report(&copy);
    let failed = |test: &str| {
        report
            .split("<testcase ")
            .any(|case| case.contains(&format!("name=\"{test}\"")) && case.contains("<failure"))
    };
    for test in [
        "test_can_create_a_todo_with_an_order_field",
        "test_can_patch_a_todo_to_change_its_order",
        "test_remembers_changes_to_a_todos_order",
    ] {
        assert!(failed(test), "{test} is not a failure in {report}");
    }
    assert!(!failed("test_responds_to_a_get"), "{report}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}", left_on_engine(&copy));
}

#[test]
fn ctrl_c_while_the_app_starts_stops_the_release_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-sigint");
    let mut run = Running::start(copy.xtask(&["release"]));
    run.wait_for_line("=> Starting the app as", A_RELEASE_ENDS_WITHIN);
    signal_process(run.pid(), SIGINT);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(30));
    let out = finished.output();
    assert!(
        finished.ended - sent < Duration::from_secs(15),
        "{}:\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(130), "{}:\n{out}", finished.how());
    assert!(out.contains("interrupted by SIG"), "{out}");
    let run = run_name(&out);
    assert!(
        left_on_engine(&copy).is_empty(),
        "run {run} left: {:?}\n{out}",
        left_on_engine(&copy)
    );
    assert!(!copy.root().join("target/reports/acceptance.xml").exists(), "{out}");
}

#[test]
fn release_keep_leaves_the_app_answering_on_loopback_until_clean() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-keep");
    let finished = release(&copy, &["--keep"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    let url = out
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:") && word.ends_with("/todos"))
        .unwrap_or_else(|| panic!("no http://127.0.0.1:PORT/todos in:\n{out}"))
        .to_string();
    // Only the app and its database stay, on their network.
    let left = left_on_engine(&copy);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().any(|line| line.contains("-app (Up")), "{left:?}");
    assert!(left.iter().any(|line| line.contains("-db (Up")), "{left:?}");

    // A client on the host uses it: a todo posted is listed, with a url that works from here.
    let posted = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, urllib.request as u\n\
             r = u.Request(sys.argv[1], data=b'{\"title\": \"kept\"}', method='POST', headers={'Content-Type': 'application/json'})\n\
             todo = json.load(u.urlopen(r, timeout=5))\n\
             print(json.load(u.urlopen(todo['url'], timeout=5))['title'])",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&posted.stdout).trim(),
        "kept",
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );

    let cleaned = run_to_end(copy.xtask(&["clean"]), Duration::from_secs(120));
    let said = cleaned.output();
    assert_eq!(cleaned.code(), Some(0), "{said}");
    assert!(said.contains("kept up (`release --keep`)"), "{said}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}", left_on_engine(&copy));
}
