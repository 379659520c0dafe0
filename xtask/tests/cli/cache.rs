//! `cargo xtask cache`: the lab's volume container of pip's cache, made once, reset on demand,
//! never one the project did not make; another run making it at the same time is waited for.

use crate::expected::CACHE_RUN;
use crate::fake_docker::{FakeDocker, stderr};

#[test]
fn cache_is_created_once_then_reported() {
    let fake = FakeDocker::new("cache-new");
    fake.xtask_ok(&fake.root().join("src/todo"), &["cache"]);
    assert_eq!(fake.changes(), CACHE_RUN);

    let fake = FakeDocker::new("cache-exists").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let output = fake.xtask_ok(fake.root(), &["cache"]);
    assert!(stderr(&output).contains("`cache` exists"), "{}", stderr(&output));
    assert_eq!(fake.changes(), Vec::<String>::new());
}

#[test]
fn cache_reset_removes_the_container_and_its_volume_then_recreates_them() {
    let fake = FakeDocker::new("cache-reset").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["cache", "--reset"]);
    assert_eq!(
        fake.changes(),
        [
            "rm --force --volumes cache",
            "volume rm todobackend-cache",
            CACHE_RUN[0],
            CACHE_RUN[1]
        ]
    );
}

#[test]
fn a_cache_container_the_project_did_not_make_is_left_alone() {
    let fake = FakeDocker::new("cache-foreign").env("FAKE_CACHE_VOLUME", "");
    for args in [&["cache"][..], &["cache", "--reset"], &["test"]] {
        let output = fake.xtask(fake.root(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("todobackend did not make"),
            "{}",
            stderr(&output)
        );
    }
    assert!(
        !fake
            .changes()
            .iter()
            // (but the container the build made its wheels in)
            .any(|args| (args.starts_with("rm ") && !args.contains("-wheels"))
                || args.starts_with("volume rm")
                || args.starts_with("run ")),
        "{:?}",
        fake.changes()
    );
}

#[test]
fn a_cache_container_another_run_is_making_is_waited_for_and_any_other_failure_is_said() {
    // The engine refuses the name at once, and shows the other run's container a moment later.
    let race = FakeDocker::new("cache-race").env("FAKE_CACHE_SHOWS_AFTER", "4");
    let output = race.xtask(race.root(), &["cache"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("error:"), "{}", stderr(&output));

    let broken = FakeDocker::new("cache-broken").env("FAKE_CREATE_FAILS", "No such image: todobackend-dev");
    let output = broken.xtask(broken.root(), &["cache"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("No such image: todobackend-dev"),
        "{}",
        stderr(&output)
    );
}
