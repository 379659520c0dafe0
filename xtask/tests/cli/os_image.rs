//! The Debian OS image every image builds on: pulled where a registry answers, else made from
//! Debian packages with mmdebstrap (slimmed by its hooks) and imported; what to do when neither
//! works.

use std::fs;
use std::path::Path;

use crate::expected::{normalized, run};
use crate::fake_docker::{CHECKOUT_DIR, FakeDocker, stderr};

#[test]
fn the_os_image_is_pulled_where_a_registry_answers() {
    let fake = FakeDocker::new("pull")
        .env("FAKE_IMAGES", "")
        .env("FAKE_PULL_EXIT", "0");
    fake.xtask_ok(fake.root(), &["base-image"]);
    assert_eq!(
        fake.changes().iter().map(|args| normalized(args)).collect::<Vec<_>>(),
        [
            "pull debian:bookworm-slim",
            &format!(
                "build -t todobackend-base -f docker/base/Dockerfile --force-rm --build-arg OS_IMAGE=debian:bookworm-slim \
                 --build-arg HOST_CA=docker/base/host-ca/{run}.crt --build-arg BUILT_IN={root} \
                 --label todobackend.built-in={root} --iidfile {root}/target/xtask/runs/{run}/image.iid .",
                root = fake.root().display(),
                run = run()
            ),
        ]
    );
}

#[test]
fn where_no_registry_answers_the_os_image_is_made_from_debian_packages_with_mmdebstrap_then_imported() {
    let fake = FakeDocker::new("from-packages").env("FAKE_IMAGES", "");
    let output = fake.xtask_ok(fake.root(), &["base-image"]);
    let err = stderr(&output);
    assert!(
        err.contains("=> No registry answered: building the OS image todobackend-os:bookworm from Debian packages"),
        "{err}"
    );
    // mmdebstrap: Debian's minimal system, straight into a tarball in the run's scratch
    // directory (outside the checkout, whose path has a space), from the checkout's root,
    // where its hooks find the overlay.
    let log = fs::read_to_string(fake.dir.join("log.mmdebstrap")).unwrap();
    let (whence, argv) = log.split_once('\n').unwrap();
    let (cwd, tmpdir) = whence.split_once('|').unwrap();
    assert_eq!(Path::new(cwd), fake.root());
    let argv: Vec<&str> = argv.trim_end().split_terminator('\u{1f}').collect();
    for arg in ["--variant=minbase", "--mode=unshare", "--format=tar", "bookworm"] {
        assert!(argv.contains(&arg), "{argv:?}");
    }
    let tarball = *argv.last().unwrap();
    assert_eq!(Path::new(tarball), Path::new(tmpdir).join("rootfs.tar"), "{argv:?}");
    let imported = normalized(tarball);
    assert!(!tmpdir.contains(CHECKOUT_DIR), "{tmpdir}");
    assert!(
        err.contains(&format!("\n$ TMPDIR={tmpdir} mmdebstrap --variant=minbase")),
        "{err}"
    );
    // Then imported and built on, and the tarball is gone with the run.
    assert_eq!(
        fake.changes().iter().map(|args| normalized(args)).collect::<Vec<_>>(),
        [
            "pull debian:bookworm-slim".to_string(),
            format!(
                "import --change LABEL application=todobackend --change LABEL todobackend.image=os \
                 --change CMD [\"bash\"] {imported} todobackend-os:bookworm"
            ),
            format!(
                "build -t todobackend-base -f docker/base/Dockerfile --force-rm --build-arg OS_IMAGE=todobackend-os:bookworm \
                 --build-arg HOST_CA=docker/base/host-ca/{run}.crt --build-arg BUILT_IN={root} \
                 --label todobackend.built-in={root} --iidfile {root}/target/xtask/runs/{run}/image.iid .",
                root = fake.root().display(),
                run = run()
            ),
        ]
    );
    assert!(!Path::new(tmpdir).exists(), "{tmpdir} outlived the run");
}

#[test]
fn the_os_image_made_from_packages_has_the_overlay_and_no_documentation_or_package_cache() {
    let fake = FakeDocker::new("from-packages-slim").env("FAKE_IMAGES", "");
    fake.xtask_ok(fake.root(), &["base-image"]);
    // What the tarball the image is imported from holds, once the hooks have run.
    let listing = fs::read_to_string(fake.dir.join("log.rootfs")).unwrap();
    let holds = |path: &str| listing.lines().any(|line| line == format!("./{path}"));
    for present in [
        "etc/dpkg/dpkg.cfg.d/docker",
        "etc/dpkg/dpkg.cfg.d/docker-apt-speedup",
        "etc/apt/apt.conf.d/docker-clean",
        "etc/apt/apt.conf.d/docker-no-languages",
    ] {
        assert!(holds(present), "{present} is missing: {listing}");
    }
    for gone in [
        "usr/share/doc/base-files/README",
        "usr/share/man/man1/ls.1.gz",
        "var/cache/apt/pkgcache.bin",
    ] {
        assert!(!holds(gone), "{gone} is left: {listing}");
    }
}

#[test]
fn an_os_image_that_cannot_be_made_from_packages_says_what_to_do() {
    let fake = FakeDocker::new("from-packages-fails")
        .env("FAKE_IMAGES", "")
        .env("FAKE_MMDEBSTRAP_EXIT", "2");
    let output = fake.xtask(fake.root(), &["base-image"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("E: unable to unshare the mount namespace"), "{err}");
    assert!(
        err.contains("needs root and `mmdebstrap` (`sudo apt-get install mmdebstrap`)")
            && err.contains("make debian:bookworm-slim available to the engine"),
        "{err}"
    );
    assert_eq!(fake.changes(), ["pull debian:bookworm-slim"]);
}
