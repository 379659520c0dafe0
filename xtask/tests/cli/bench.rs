//! `cargo xtask bench`, dry: both flows timed on a copy of the checkout with cold runs taking
//! turns first, `--only release` loading the release image and runserver with wrk, `--only loop`,
//! and wrk missing said before anything runs.

use crate::expected::{shell_quoted, shell_words};
use crate::fake_docker::{FakeDocker, stderr};

#[test]
fn bench_times_both_flows_with_cold_runs_taking_turns_first() {
    let fake = FakeDocker::new("bench").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(root, &["bench", "--rounds", "2", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let colds: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("=> ") && line.contains(": cold, "))
        .collect();
    assert_eq!(
        colds,
        [
            "=> Round 1 of 2: cold, the lab's flow",
            "=> Round 1 of 2: cold, cargo xtask test",
            "=> Round 2 of 2: cold, cargo xtask test",
            "=> Round 2 of 2: cold, the lab's flow",
        ]
    );
    // What a shell makes of the echoed line that starts with `start`.
    let echoed = |start: &str| -> Vec<String> {
        let line = err
            .lines()
            .find_map(|line| line.strip_prefix("$ ").filter(|line| line.starts_with(start)))
            .unwrap_or_else(|| panic!("no `$ {start}...` line:\n{err}"));
        shell_words(line)
    };
    // The baseline is the lab's own flow, built from the fixture under names of its own, in a
    // copy of the checkout under target/bench.
    let copy = root.join("target/bench").display().to_string();
    let lab = format!("{copy}/target/bench-lab");
    assert_eq!(
        echoed("docker build -t todobackend-bench-lab-dev "),
        [
            "docker",
            "build",
            "-t",
            "todobackend-bench-lab-dev",
            "-f",
            &format!("{lab}/docker/dev/Dockerfile"),
            "--force-rm",
            "--label",
            &format!("todobackend.built-in={copy}"),
            &lab,
        ]
    );
    assert!(
        err.contains("$ docker run --rm --volumes-from todobackend-bench-lab-cache todobackend-bench-lab-dev\n"),
        "{err}"
    );
    // The product's flow runs on the same copy, under the bench's own names, first from
    // nothing: what the copy's runs keep removed by its own `clean`, then its images, its
    // own OS image too.
    assert_eq!(
        echoed("CARGO_MANIFEST_DIR="),
        [
            &format!("CARGO_MANIFEST_DIR={copy}/xtask"),
            env!("CARGO_BIN_EXE_xtask"),
            "clean",
        ]
    );
    let first = &err[err
        .find("=> First run with no images at all")
        .expect("no first run from nothing")..];
    let at = |what: &str| first.find(what).unwrap_or_else(|| panic!("no {what}:\n{first}"));
    // The xtask's own runs, as echoed: its path quoted where the checkout's has a space.
    let xtask = |task: &str| format!("{} {task}\n", shell_quoted(env!("CARGO_BIN_EXE_xtask")));
    assert!(
        at(&xtask("clean")) < at("$ docker rmi todobackend-bench-os:bookworm\n")
            && at("$ docker rmi todobackend-bench-os:bookworm\n") < at(&xtask("test")),
        "{first}"
    );
    // Each round, from nothing each time: the goal is on a median
    let from_nothing = &first[..at("=> Round 1 of 2: cold")];
    assert_eq!(
        from_nothing
            .matches("$ docker rmi todobackend-bench-os:bookworm\n")
            .count(),
        2,
        "{from_nothing}"
    );
    assert_eq!(from_nothing.matches(&xtask("test")).count(), 2, "{from_nothing}");
    // The native baseline: its script in the copy's src/, in a venv of the bench's own.
    let venv = root.join("target/bench-native-venv").display().to_string();
    assert!(err.contains(&format!(" -m venv '{venv}'\n")), "{err}");
    let native = echoed("PATH=");
    assert_eq!(
        native[native.len() - 5..],
        [
            "env",
            "-C",
            &format!("{copy}/src"),
            "sh",
            &format!("{copy}/target/native/run-tests.sh")
        ]
    );
    // The requirements change, and the suite 50 times larger, serially and with two workers.
    assert!(err.contains("=> Requirements change, sqlparse "), "{err}");
    // Timed from a flushed disk, as the cold runs are: the untimed build before it is not
    // billed to it.
    let round = &first[at("back to 0.6.1 (not timed), then 0.6.0")..];
    assert!(
        round.contains(&format!("{}$ sync\n$ CARGO_MANIFEST_DIR=", xtask("test"))),
        "{round}"
    );
    assert!(err.contains(" test -- --parallel 2\n"), "{err}");
    assert!(err.contains("/target/native/run-tests.sh' --parallel 2\n"), "{err}");
    assert!(
        err.contains("$ docker rmi todobackend-bench-dev todobackend-bench-tools todobackend-bench-base\n"),
        "{err}"
    );
    // Neither the user's images and pip cache nor the OS image, which every checkout shares.
    assert!(
        !err.contains(" cache\n") && !err.contains("rmi todobackend-dev") && !err.contains("rmi todobackend-os:"),
        "{err}"
    );
    assert!(!root.join("target/bench").exists());
}

#[test]
fn bench_only_release_starts_the_release_image_each_round_and_loads_it_and_runserver_with_wrk() {
    let fake = FakeDocker::new("bench-release").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(root, &["bench", "--only", "release", "--rounds", "2", "--dry-run"]);
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    let err = stderr(&output);
    let echoed: Vec<&str> = err.lines().filter_map(|line| line.strip_prefix("$ ")).collect();
    // Neither flow's scenarios: the release section alone.
    assert!(
        !err.contains(": cold, ") && !err.contains("build -t todobackend-bench-lab"),
        "{err}"
    );
    // The release is made, and its acceptance tests run, by the xtask on the bench's copy.
    let copy = root.join("target/bench").display().to_string();
    let release_line = echoed
        .iter()
        .find(|line| line.starts_with("CARGO_MANIFEST_DIR="))
        .unwrap_or_else(|| panic!("no release by the xtask:\n{err}"));
    assert_eq!(
        shell_words(release_line),
        [
            &format!("CARGO_MANIFEST_DIR={copy}/xtask"),
            env!("CARGO_BIN_EXE_xtask"),
            "release"
        ]
    );
    let runs = |image: &str| -> Vec<&str> {
        echoed
            .iter()
            .copied()
            .filter(|line| line.contains("docker run --detach ") && line.contains(&format!(" {image}")))
            .collect()
    };
    let release = runs("todobackend-bench-release");
    assert_eq!(release.len(), 2, "{err}");
    for (round, line) in release.iter().enumerate() {
        assert!(line.contains(&format!("-app-{} ", round + 1)), "{line}");
        assert!(
            line.contains(" -e DJANGO_SETTINGS_MODULE=todobackend.settings.release "),
            "{line}"
        );
        assert!(line.contains(" --network todobackend-bench-bench-"), "{line}");
    }
    let runserver = runs("todobackend-bench-dev");
    assert_eq!(runserver.len(), 1, "{err}");
    assert!(
        runserver[0].ends_with(" todobackend-bench-dev python manage.py runserver --noreload 0.0.0.0:8000"),
        "{}",
        runserver[0]
    );
    // Each round, each server: a warm-up, then the measured load, 10 connections for 10 s;
    // then a load of the release app while it is stopped.
    let loads: Vec<&str> = echoed.iter().copied().filter(|line| line.starts_with("wrk ")).collect();
    let url = "http://CONTAINER_ADDRESS:8000/todos";
    let wrk = |seconds: u32| format!("wrk -c10 -t2 -d{seconds}s --latency -H 'Host: app' {url}");
    let count = |seconds: u32| loads.iter().filter(|line| **line == wrk(seconds)).count();
    assert_eq!(
        (count(2), count(10), count(3), loads.len()),
        (4, 4, 2, 10),
        "{loads:#?}"
    );
    // Each round's release app is stopped, as an orchestrator would, and timed.
    let stops: Vec<&str> = echoed
        .iter()
        .copied()
        .filter(|line| line.starts_with("docker stop "))
        .collect();
    assert_eq!(stops.len(), 2, "{err}");
    assert!(stops.iter().all(|line| line.contains("-app-")), "{stops:?}");
    // The database is migrated and given its items before any server starts; runserver is
    // up before the first round, to be loaded in each.
    let at = |part: &str| {
        echoed
            .iter()
            .position(|line| line.contains(part))
            .unwrap_or_else(|| panic!("no {part}"))
    };
    assert!(
        at("-seed ") < at("-runserver ") && at("-runserver ") < at("-app-1 "),
        "{err}"
    );
    assert!(err.contains("$ docker rmi todobackend-bench-release\n"), "{err}");
    assert!(!root.join("target/bench").exists());
}

#[test]
fn bench_only_takes_loop_release_or_deploy_alone() {
    let fake = FakeDocker::new("bench-only");
    let output = fake.xtask_ok(fake.root(), &["bench", "--only", "loop", "--rounds", "1", "--dry-run"]);
    let err = stderr(&output);
    // The warm loop beside the native run, on the shared OS image: no lab, nothing removed first.
    assert!(
        err.contains("=> Round 1 of 1: warm, after an edit and unchanged"),
        "{err}"
    );
    assert!(err.contains("/target/native/run-tests.sh'\n"), "{err}");
    assert!(
        !err.contains("cold")
            && !err.contains("rmi todobackend-bench-os")
            && !err.contains("build -t todobackend-bench-lab"),
        "{err}"
    );
    let fake = FakeDocker::new("bench-only-lab");
    let output = fake.xtask(fake.root(), &["bench", "--only", "lab", "--dry-run"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("`--only` takes `loop`, `release` or `deploy`"),
        "{}",
        stderr(&output)
    );
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[test]
fn bench_only_deploy_releases_the_copy_onto_a_swarm_lab_it_removes_and_runs_no_other_part() {
    let fake = FakeDocker::new("bench-deploy");
    let output = fake.xtask_ok(fake.root(), &["bench", "--only", "deploy", "--dry-run"]);
    let err = stderr(&output);
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("no {what:?} in:\n{err}"));
    assert!(at(" release\n") < at("/scripts/swarm-lab.sh' up "), "{err}");
    assert!(
        at("/scripts/swarm-lab.sh' up ") < at("/scripts/swarm-lab.sh' down "),
        "{err}"
    );
    assert!(err.contains("SWARM_LAB_OWNER="), "{err}");
    assert!(
        !err.contains("Round 1") && !err.contains("wrk ") && !err.contains("rmi todobackend-bench-os"),
        "{err}"
    );
}

#[test]
fn bench_without_wrk_says_so_before_running_any_part() {
    let fake = FakeDocker::new("bench-no-wrk");
    let root = fake.root();
    // The fake docker alone on PATH: no wrk.
    let output = fake.xtask_with_path(root, &["bench", "--rounds", "1"], &fake.dir.display().to_string());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("needs wrk on PATH") && err.contains("apt-get install wrk"),
        "{err}"
    );
    // Nothing was run first: no part's step, no engine change, no copy of the checkout.
    assert!(!err.contains("=> "), "{err}");
    assert!(fake.changes().is_empty(), "{:?}", fake.changes());
    assert!(!root.join("target/bench").exists());
}
