//! `cargo xtask clean` on the real engine: with `--all --images` nothing of the checkout is left
//! but the shared OS image, and the images someone else built from the checkout's stay.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support;
use crate::support::{Checkout, docker_ok};
use crate::xtask_ok;

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
