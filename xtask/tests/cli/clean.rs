//! `cargo xtask clean`: what dead runs of this checkout left, selected by the labels a run sets;
//! the pip cache only with `--all` and while no one uses it; the images with `--images`, the
//! shared OS image only from a checkout without a name of its own.

use crate::fake_docker::{ALL_IMAGES, FakeDocker, stderr};

#[test]
fn clean_removes_what_dead_runs_of_this_checkout_left_and_keeps_the_pip_cache_unless_all() {
    let fake = FakeDocker::new("clean");
    let root = fake.root().display().to_string();
    let listing = [
        // A run of this checkout whose owner is gone, found by the labels it set itself, beside
        // the checkout's worker, which is no run's.
        format!(
            "container label=todobackend.checkout={root}|todobackend-checkout-dead01-db todobackend-checkout-worker"
        ),
        "container todobackend-checkout-dead01-db|todobackend-checkout-dead01".to_string(),
        "container label=todobackend.run=todobackend-checkout-dead01|todobackend-checkout-dead01-db".to_string(),
        "network label=todobackend.run=todobackend-checkout-dead01|todobackend-checkout-dead01".to_string(),
        format!("image dangling=true,label=todobackend.built-in={root}|sha256:2"),
        // (As an engine lists them: the dangling images among the labelled ones.)
        format!("image label=todobackend.built-in={root}|sha256:2"),
        "container volume=todobackend-cache|cache".to_string(),
        "container ancestor=todobackend-dev|cache".to_string(),
    ];
    let fake = fake
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_LISTING", &listing.join("\n"));
    let output = fake.xtask_ok(fake.root(), &["clean"]);
    assert_eq!(
        fake.changes(),
        [
            "rm --force --volumes todobackend-checkout-dead01-db",
            "network rm todobackend-checkout-dead01",
            "rmi sha256:2",
        ]
    );
    let err = stderr(&output);
    assert!(
        err.contains("Run todobackend-checkout-dead01 ended without cleaning up"),
        "{err}"
    );
    assert!(err.contains("Kept the pip cache"), "{err}");
    // Selection is by the labels a run sets, never by the project label images pass on.
    assert!(
        !fake
            .calls()
            .iter()
            .any(|call| call.contains("label=application=todobackend")),
        "{:?}",
        fake.calls()
    );

    fake.forget_calls();
    fake.xtask_ok(fake.root(), &["clean", "--all", "--images"]);
    let changes = fake.changes();
    assert!(
        changes.contains(&"rm --force --volumes cache".to_string()),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"volume rm todobackend-cache".to_string()),
        "{changes:?}"
    );
    // The dev image stays while a container uses it; the others go, never forced.
    assert!(changes.contains(&"rmi todobackend-base".to_string()), "{changes:?}");
    assert!(changes.contains(&"rmi todobackend-db".to_string()), "{changes:?}");
    assert!(
        !changes.iter().any(|args| args.contains("rmi todobackend-dev")),
        "{changes:?}"
    );

    // Another checkout's run uses the pip cache: it stays.
    let busy = FakeDocker::new("clean-busy")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env(
            "FAKE_LISTING",
            "container volume=todobackend-cache|cache todobackend-other-abc123-test",
        );
    let output = busy.xtask_ok(busy.root(), &["clean", "--all"]);
    assert!(busy.changes().is_empty(), "{:?}", busy.changes());
    assert!(
        stderr(&output).contains("in use by todobackend-other-abc123-test"),
        "{}",
        stderr(&output)
    );

    let empty = FakeDocker::new("clean-empty");
    let output = empty.xtask_ok(empty.root(), &["clean"]);
    assert!(empty.changes().is_empty(), "{:?}", empty.changes());
    assert!(
        stderr(&output).contains("Nothing of this checkout's runs is left"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn clean_images_removes_the_os_image_only_in_a_checkout_without_a_name_of_its_own() {
    let images = format!(
        "{ALL_IMAGES} todobackend-tools todobackend-os:bookworm todobackend-x-base todobackend-x-dev todobackend-x-tools"
    );
    let fake = FakeDocker::new("clean-os").env("FAKE_IMAGES", &images);
    fake.xtask_ok(fake.root(), &["clean", "--images"]);
    let changes = fake.changes();
    for image in [
        "todobackend-os:bookworm",
        "todobackend-base",
        "todobackend-dev",
        "todobackend-tools",
        "todobackend-db",
    ] {
        assert!(changes.contains(&format!("rmi {image}")), "{image}: {changes:?}");
    }

    let named = FakeDocker::new("clean-os-named").env("FAKE_IMAGES", &images);
    named.checkout.edit("Cargo.toml", |manifest| {
        format!("{manifest}\n[workspace.metadata.todobackend]\nname = \"todobackend-x\"\n")
    });
    named.xtask_ok(named.root(), &["clean", "--images"]);
    let changes = named.changes();
    for image in [
        "todobackend-x-base",
        "todobackend-x-dev",
        "todobackend-x-tools",
        "todobackend-db",
    ] {
        assert!(changes.contains(&format!("rmi {image}")), "{image}: {changes:?}");
    }
    assert!(!changes.iter().any(|args| args.contains("-os:bookworm")), "{changes:?}");

    // One that names an OS image of its own removes that one, never the shared one.
    let own = FakeDocker::new("clean-os-own").env("FAKE_IMAGES", &format!("{images} todobackend-x-os:bookworm"));
    own.checkout.edit("Cargo.toml", |manifest| {
        format!("{manifest}\n[workspace.metadata.todobackend]\nname = \"todobackend-x\"\nos_image = \"todobackend-x-os:bookworm\"\n")
    });
    own.xtask_ok(own.root(), &["clean", "--images"]);
    let changes = own.changes();
    assert!(
        changes.contains(&"rmi todobackend-x-os:bookworm".to_string()),
        "{changes:?}"
    );
    assert!(
        !changes.iter().any(|args| args.contains("todobackend-os:")),
        "{changes:?}"
    );
}
