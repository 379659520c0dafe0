//! The images and the wheels: the dev image reused while its inputs are the same, its tools
//! stage kept across a requirements change, a service's image built beside it, a classic build
//! run again when another client removed what it had cached, and `build`'s wheels.

use crate::expected::{copy_out, dev_build, normalized, run};
use crate::fake_docker::{ALL_IMAGES, FakeDocker, stderr};

#[test]
fn with_the_source_mounted_an_image_with_unchanged_inputs_is_reused() {
    let fake = FakeDocker::new("reuse").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["dev-image"]);
    let built = fake.changes();
    let inputs = built
        .last()
        .unwrap()
        .split(' ')
        .find_map(|word| word.strip_prefix("todobackend.inputs="))
        .unwrap();

    let fake = fake.env("FAKE_DEV_LABEL", inputs);
    let before = fake.calls().len();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        !changes.iter().skip(built.len()).any(|args| args.starts_with("build ")),
        "{changes:?}"
    );
    // Asked with the engine check's questions, whether the image is current is asked once.
    let calls = &fake.calls()[before..];
    let image_state = calls
        .iter()
        .filter(|call| {
            call.contains(" image inspect ")
                && call.contains("todobackend.inputs")
                && call.contains(" todobackend-dev ")
        })
        .count();
    assert_eq!(image_state, 1, "{calls:#?}");
    assert!(
        changes
            .last()
            .unwrap()
            .ends_with(" sha256:todobackend-dev suite.py serve"),
        "{changes:?}"
    );
}

#[test]
fn a_requirements_change_makes_the_wheels_in_the_tools_the_dev_image_was_built_on_while_they_are_the_same() {
    let fake = FakeDocker::new("tools-kept").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    fake.xtask_ok(fake.root(), &["test"]);
    // What the first build recorded, as the engine would show it on the dev image
    let recorded = fake
        .changes()
        .iter()
        .flat_map(|args| args.split(' ').map(String::from).collect::<Vec<_>>())
        .find_map(|word| word.strip_prefix("todobackend.tools=").map(String::from))
        .unwrap();
    assert!(recorded.ends_with(":sha256:built"), "{recorded}");
    let fake = fake
        .env("FAKE_TOOLS_LABEL", &recorded)
        .env("FAKE_IMAGES", &format!("{ALL_IMAGES} sha256:built"));
    fake.checkout.edit("src/requirements.txt", |text| {
        text.replace("sqlparse==0.6.1", "sqlparse==0.6.0")
    });

    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        !changes.iter().any(|args| args.starts_with("build --target tools")),
        "{changes:#?}"
    );
    assert!(
        changes.iter().any(|args| args.starts_with("create ")
            && args.ends_with("sha256:built wheels.sh /tmp/requirements_test.txt /kept /wheels")),
        "{changes:#?}"
    );

    // The tools stage changed (a script it copies): built again
    fake.checkout
        .edit("scripts/wheels.sh", |text| format!("{text}# changed\n"));
    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["test"]);
    let changes = fake.changes();
    assert!(
        changes.iter().any(|args| args.starts_with("build --target tools")),
        "{changes:#?}"
    );
}

#[test]
fn a_service_image_to_build_is_built_beside_the_dev_image_and_a_failure_shows_its_output() {
    // The fake's database build lasts until the dev image's build begins, and the dev image's
    // fails unless the database's began first: built one after the other, the run fails.
    let args = ["test", "--baked", "--settings", "test"];
    let beside = FakeDocker::new("beside")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db");
    let output = beside.xtask_ok(beside.root(), &args);
    assert!(
        stderr(&output).contains("\n   the image todobackend-db was built beside the development image\n"),
        "{}",
        stderr(&output)
    );
    let builds: Vec<String> = beside
        .changes()
        .into_iter()
        .filter(|args| args.starts_with("build "))
        .collect();
    assert!(builds[0].starts_with("build -t todobackend-db "), "{builds:#?}");
    assert_eq!(builds.len(), 3, "{builds:#?}");

    let failing = FakeDocker::new("beside-fails")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db")
        .env("FAKE_BESIDE_FAILS", "1");
    let output = failing.xtask(failing.root(), &args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "Building the image todobackend-db beside the development image failed:\n\
             Step 5/15 : RUN apt-get install mariadb-server\nE: Unable to locate package mariadb-server"
        ),
        "{err}"
    );
    // Nothing ran on images that are not all there
    let changes = failing.changes();
    assert!(!changes.iter().any(|args| args.starts_with("run ")), "{changes:#?}");
}

#[test]
fn a_classic_build_whose_cached_image_another_client_removed_runs_again() {
    let builds = |fake: &FakeDocker| -> Vec<String> {
        let changes = fake.changes().into_iter();
        changes.filter(|args| args.starts_with("build ")).collect()
    };
    let again = "   another client of the engine removed an image this build had taken from its cache: \
                 running it again\n";
    let lost = format!(
        "failed to get digest sha256:2d17: open /var/lib/docker/image/overlay2/imagedb/content/sha256/2d17: \
         no such file or directory\n{again}"
    );

    // Each build loses once, the database's beside the dev image's too: each runs again, and
    // what docker said is shown as it said it (but the database's, whose output is kept
    // unless it fails)
    let args = ["test", "--baked", "--settings", "test"];
    let once = FakeDocker::new("race-once")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_BESIDE", "todobackend-db")
        .env("FAKE_RACES", "1");
    let output = once.xtask_ok(once.root(), &args);
    let err = stderr(&output);
    assert_eq!(err.matches(again).count(), 3, "{err}");
    assert_eq!(err.matches(&lost).count(), 2, "{err}");
    let built = builds(&once);
    for image in ["todobackend-db", "todobackend-tools", "todobackend-dev"] {
        let of_image = built.iter().filter(|args| args.contains(&format!(" -t {image} ")));
        assert_eq!(of_image.count(), 2, "{image}: {built:#?}");
    }

    // Lost three times in a row: no longer luck, the run fails with docker's message
    let thrice = FakeDocker::new("race-thrice").env("FAKE_RACES", "3");
    let output = thrice.xtask(thrice.root(), &["base-image"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.matches(&lost).count(), 2, "{err}");
    assert_eq!(builds(&thrice).len(), 3, "{err}");

    // Any other failure is the build's own: it runs once
    let fails = FakeDocker::new("race-not").env("FAKE_BUILD_FAILS", "1");
    let output = fails.xtask(fails.root(), &["base-image"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("E: Unable to locate package python3.11\n"), "{err}");
    assert_eq!(builds(&fails).len(), 1, "{err}");

    // BuildKit holds what a build uses: its output stays on the terminal, and nothing runs again
    let buildkit = FakeDocker::new("race-buildkit")
        .env("FAKE_BUILDX", "1")
        .env("FAKE_RACES", "1");
    let output = buildkit.xtask(buildkit.root(), &["base-image"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(builds(&buildkit).len(), 1, "{}", stderr(&output));
}

#[test]
fn build_leaves_the_wheels_of_a_fresh_image_under_target() {
    let fake = FakeDocker::new("build").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask(&root.join("src"), &["build"]);
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let run = run();
    let built = dev_build(root, "debian:bookworm-slim");
    assert_eq!(changes[..built.len()], built);
    let builder = &changes[built.len()];
    assert!(
        builder.starts_with(&format!("create --name {run}-build "))
            && builder.ends_with(" --volumes-from cache sha256:built pip wheel ."),
        "{changes:?}"
    );
    assert_eq!(
        changes[built.len() + 1..],
        [
            format!("start --attach {run}-build"),
            copy_out(root, "build", "/wheelhouse", "wheels"),
            format!("rm --force --volumes {run}-build"),
        ]
    );
    // The fake copies nothing: the run fails and says so rather than claiming wheels.
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no wheels reached target/wheels/"),
        "{}",
        stderr(&output)
    );
}
