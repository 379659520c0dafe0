//! `cargo xtask build`: the wheels, made in the dev image, install offline on the base image and
//! pass the app's tests.

use std::fs;
use std::process::Command;

use crate::support;
use crate::support::Checkout;
use crate::{assert_the_suite_passed, xtask_ok};

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
