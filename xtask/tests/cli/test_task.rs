//! `cargo xtask test` in the developer's loop and baked: the source mounted into the checkout's
//! worker from any directory, every command echoed as a shell line that gives docker the very
//! arguments it got; baked under CI, on a remote engine, or where the path has a `:`.

use crate::expected::{
    CACHE_RUN, dev_build, echoed_docker_commands, normalized, run, test_run, worker, worker_network, worker_run,
};
use crate::fake_docker::{FakeDocker, stderr};

#[test]
fn test_mounts_the_source_and_runs_the_suite_from_the_root_whatever_the_directory() {
    for cwd in ["src/todo", "", "/"] {
        let fake = FakeDocker::new("test-cwd").env("FAKE_CACHE_VOLUME", "todobackend-cache");
        let root = fake.root();
        let output = fake.xtask_ok(&root.join(cwd), &["test"]);
        let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
        let expected = [
            dev_build(root, "debian:bookworm-slim"),
            vec![worker_network(root), worker_run(root)],
        ]
        .concat();
        assert_eq!(changes, expected);
        // The suite runs in a child of the worker, its reports written into the run's directory.
        assert_eq!(
            normalized(fake.calls().last().unwrap().split_once(": ").unwrap().1),
            format!(
                "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.base \
                 {worker} python3 -I -S /usr/local/bin/suite.py fork {run}",
                run = run(),
                worker = worker()
            )
        );
        // Not on a terminal (stdin is not one here): neither -i nor -t, so pdb or a
        // `breakpoint()` reads end of file rather than waits.
        assert!(
            !changes
                .iter()
                .any(|args| args.contains("--interactive") || args.contains("--tty")),
            "{changes:#?}"
        );
        // Every docker command runs from the root, so the build context is the root.
        let from_root = format!("{}: ", root.display());
        assert!(
            fake.calls().iter().all(|call| call.starts_with(&from_root)),
            "{:?}",
            fake.calls()
        );
        // Each command is echoed before it runs, as a shell line that gives docker the very
        // arguments it got, paths with spaces included: copy-pastable from the root.
        let echoed = echoed_docker_commands(&output);
        assert!(
            echoed
                .first()
                .is_some_and(|args| args.starts_with(&["build".into(), "--target".into(), "tools".into()])),
            "{}",
            stderr(&output)
        );
        let mut ran = fake.argvs().into_iter();
        for args in &echoed {
            assert!(
                ran.any(|ran| ran == *args),
                "echoed, but docker never got these arguments in this order: {args:?}\ndocker got: {:#?}",
                fake.argvs()
            );
        }
        assert!(
            echoed
                .iter()
                .any(|args| args.contains(&format!("{}/src:/application", root.display()))),
            "{echoed:#?}"
        );
    }
}

#[test]
fn test_makes_the_cache_and_the_dev_image_that_are_missing() {
    let fake = FakeDocker::new("missing").env("FAKE_IMAGES", "debian:bookworm-slim");
    fake.xtask_ok(fake.root(), &["test"]);
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // The dev image is built on the OS image: a test run needs no base image. Its wheels are
    // made with the kept wheels' volume, made first.
    assert_eq!(changes[0], dev_build(fake.root(), "debian:bookworm-slim")[0]);
    assert_eq!(
        changes[1],
        "volume create --label application=todobackend --label todobackend.wheels=kept todobackend-wheels"
    );
    assert!(
        changes[8].starts_with(
            "build -t todobackend-dev -f docker/dev/Dockerfile --force-rm --build-arg WHEELS=target/xtask/wheels/"
        ),
        "{changes:?}"
    );
    assert!(
        !changes.iter().any(|args| args.contains("todobackend-base")),
        "{changes:?}"
    );
    // The fake engine still has no dev image, so the cache would build it once more.
    assert!(
        CACHE_RUN.iter().all(|cache| changes.iter().any(|args| args == cache)),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|args| args.ends_with(" suite.py serve")),
        "{changes:?}"
    );
}

#[test]
fn ci_and_remote_engines_test_the_source_baked_into_a_fresh_build() {
    let remote = FakeDocker::new("remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DEV_LABEL", "whatever")
        .env("FAKE_ENDPOINT", "tcp://build-host:2376");
    let baked = FakeDocker::new("baked").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    for (fake, args) in [(&remote, &["test"][..]), (&baked, &["test", "--baked"])] {
        fake.xtask_ok(fake.root(), args);
        let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
        let built = dev_build(fake.root(), "debian:bookworm-slim").len();
        assert!(
            changes[built - 1].starts_with("build -t todobackend-dev "),
            "{changes:?}"
        );
        assert_eq!(changes[built..built + 2], test_run(fake.root(), ""));
    }
}

#[test]
fn a_checkout_whose_path_has_a_colon_tests_the_baked_source_and_says_why() {
    let fake = FakeDocker::in_checkout("colon", "todo:backend").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["test"]);
    assert!(
        stderr(&output).contains("cannot mount a path with a `:`"),
        "{}",
        stderr(&output)
    );
    assert!(
        !fake.changes().iter().any(|args| args.contains(":/application")),
        "{:?}",
        fake.changes()
    );
}
