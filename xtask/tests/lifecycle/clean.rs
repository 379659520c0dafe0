//! Who cleans up after whom: `clean --all` leaves another checkout's running run and a stranger's
//! container alone, the next `doctor` removes a run whose owner and watchdog were killed, and a
//! hand-made cache container like the lab's is never taken for the project's.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{
    A_RUN_ENDS_WITHIN, Checkout, DATABASE_READY_WITHIN, Running, SIGKILL, docker_lines, docker_ok, left_on_engine,
    run_to_end, running_containers, signal_process, wait_until_nothing_left,
};
use crate::{TEN_S, a_run_with_its_database_ready, assert_nothing_left};

/// A test that keeps its run busy long enough for another checkout to act meanwhile.
const SLOW_TEST: &str = "import time\n\nfrom django.test import SimpleTestCase\n\n\n\
                         class Slow(SimpleTestCase):\n    def test_sleeps(self):\n        time.sleep(25)\n";

/// A container the project did not make, though from one of its images and so with its image
/// labels.
struct Stranger {
    name: String,
}

impl Stranger {
    fn create(image: &str) -> Stranger {
        let name = format!("xtask-e2e-stranger-{}", std::process::id());
        docker_ok(&["rm", "--force", "--volumes", &name]);
        assert!(
            docker_ok(&["create", "--name", &name, image, "true"]),
            "cannot create the stranger {name} from {image}"
        );
        Stranger { name }
    }

    fn exists(&self) -> bool {
        docker_ok(&["container", "inspect", &self.name])
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        // With the anonymous volume the dev image's VOLUME gave it
        docker_ok(&["rm", "--force", "--volumes", &self.name]);
    }
}

/// Waits until `copy`'s run has its test container running (its database, where it runs the
/// suite in the checkout's worker): its name.
fn test_container_running(copy: &Checkout, run: &mut Running, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Some(name) = running_containers(copy)
            .into_iter()
            .find(|name| name.ends_with("-test") || name.ends_with("-db"))
        {
            return name;
        }
        assert!(
            !run.has_exited() && Instant::now() < deadline,
            "no test container of {} ran:\n{}",
            copy.root().display(),
            run.printed()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether a line of `clean`'s output removes something named `name`: a docker command it runs
/// (a dry run prints them) or a removal it announces. A line that only mentions it (a cache
/// kept because `name` uses it) removes nothing.
fn removes(line: &str, name: &str) -> bool {
    line.contains(name) && (line.starts_with("$ ") || line.contains("Remov"))
}

/// The names of what is labelled with `copy`: containers, then networks.
fn names_labelled(copy: &Checkout) -> Vec<(&'static str, String)> {
    let label = format!("label={}", copy.label());
    let containers = docker_lines(&["container", "ls", "--all", "--filter", &label, "--format", "{{.Names}}"]).unwrap();
    let networks = docker_lines(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]).unwrap();
    containers
        .into_iter()
        .map(|name| ("container", name))
        .chain(networks.into_iter().map(|name| ("network", name)))
        .collect()
}

#[test]
fn clean_all_in_one_checkout_leaves_another_checkouts_run_and_strangers_alone() {
    // Two clones under the same names: they share the images and the pip cache. No other
    // test's copy has these names, so the engine need not be theirs alone.
    let Some(_engine) = support::engine() else { return };
    let a = Checkout::copy("clean-a");
    let b = Checkout::beside(&a, "clean-b");
    b.write("src/todo/test_slow.py", SLOW_TEST);

    let mut b_run = Running::start(b.xtask(&["test", "--settings", "test"]));
    let b_test = test_container_running(&b, &mut b_run, DATABASE_READY_WITHIN);
    let b_name = b_test.trim_end_matches("-test").trim_end_matches("-db").to_string();
    let b_things = names_labelled(&b);
    let stranger = Stranger::create(&format!("{}-dev", b.prefix()));

    // The dry run first: it says what the real one would remove, and if that is someone
    // else's, the real one is not run at all.
    let dry = run_to_end(a.xtask(&["clean", "--all", "--dry-run"]), Duration::from_secs(60));
    let dry_out = dry.output();
    assert_eq!(dry.code(), Some(0), "clean --all --dry-run: {}:\n{dry_out}", dry.how());
    assert!(
        !dry.has_line(|line| removes(line, &b_name)) && !dry_out.contains(&stranger.name),
        "`clean --all --dry-run` in {} would remove another checkout's running run {b_name} or the \
         stranger {}:\n{dry_out}",
        a.root().display(),
        stranger.name
    );

    let clean = run_to_end(a.xtask(&["clean", "--all"]), Duration::from_secs(120));
    let clean_out = clean.output();
    assert_eq!(clean.code(), Some(0), "clean --all: {}:\n{clean_out}", clean.how());
    let gone: Vec<String> = b_things
        .iter()
        .filter(|(kind, name)| !docker_ok(&[kind, "inspect", name]))
        .map(|(kind, name)| format!("{kind} {name}"))
        .collect();
    assert!(
        gone.is_empty(),
        "`clean --all` in another checkout removed {gone:?} of the running {b_name}:\n{clean_out}"
    );

    let b_done = b_run.finish(A_RUN_ENDS_WITHIN);
    assert!(
        b_done.code() == Some(0) && b_done.has_line(|line| line == "OK"),
        "{b_name} after `clean --all` elsewhere: {}:\n{}",
        b_done.how(),
        b_done.output()
    );
    assert!(
        stranger.exists(),
        "`clean --all` removed the stranger {}:\n{clean_out}",
        stranger.name
    );
}

/// A process whose arguments include `__watchdog` and name the run or the checkout.
fn watchdog_of(run: &str, checkout: &Path) -> Option<i32> {
    let checkout = checkout.to_string_lossy();
    let me = std::process::id().to_string();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        let is_a_watchdog = args.iter().any(|arg| arg == "__watchdog");
        let of_this_run = args
            .iter()
            .any(|arg| arg.contains(run) || arg.contains(checkout.as_ref()));
        if is_a_watchdog && of_this_run {
            return pid.parse().ok();
        }
    }
    None
}

#[test]
fn a_run_whose_owner_and_watchdog_were_killed_is_found_and_removed_by_the_next_doctor() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("orphaned");
    let mut run = a_run_with_its_database_ready(&copy);
    let run_name = support::run_name(&run.printed());

    let deadline = Instant::now() + Duration::from_secs(2);
    let watchdog = loop {
        match watchdog_of(&run_name, copy.root()) {
            Some(pid) => break pid,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            None => panic!(
                "no watchdog of {run_name}: no process in /proc has the argument `__watchdog` and names \
                 the run or {}:\n{}",
                copy.root().display(),
                run.printed()
            ),
        }
    };
    signal_process(run.pid(), SIGKILL);
    signal_process(watchdog, SIGKILL);
    let killed = run.finish(Duration::from_secs(5));
    let left_by_the_kill = left_on_engine(&copy);

    let doctor = run_to_end(copy.xtask(&["doctor"]), Duration::from_secs(120));
    let out = doctor.output();
    let left = wait_until_nothing_left(&copy, TEN_S);

    assert!(
        out.contains(&run_name) && out.contains("owner is gone"),
        "doctor did not report {run_name}, whose owner is gone (left by the kill: {left_by_the_kill:?}):\n{out}\n\
         The killed run printed:\n{}",
        killed.output()
    );
    assert_nothing_left(&left, &copy, "after doctor", &out);
}

#[test]
fn a_hand_made_cache_container_like_the_labs_is_not_taken_for_the_projects() {
    let Some(_engine) = support::engine() else { return };
    // The copy has names of its own: its cache container is not the user's `cache`.
    let copy = Checkout::copy("lab-cache");
    let container = &format!("{}-cache", copy.prefix());
    let host_dir = copy.root().join("lab-cache");
    let mount = format!("{}:/cache", host_dir.display());
    // As the lab made it: a host directory at /cache, in a container of an image with the
    // project's labels (here an empty one: the container never starts).
    let image = "xtask-e2e-lab-cache-image";
    let import =
        format!("tar -cf - --files-from /dev/null | docker import --change 'LABEL application=todobackend' - {image}");
    let empty = Command::new("sh").args(["-c", &import]).output().unwrap();
    assert!(empty.status.success(), "{}", String::from_utf8_lossy(&empty.stderr));
    let made = docker_ok(&[
        "create",
        "-v",
        &mount,
        "--entrypoint",
        "true",
        "--name",
        container,
        image,
    ]);
    let finished = run_to_end(copy.xtask(&["cache"]), Duration::from_secs(60));
    let still_there = docker_ok(&["container", "inspect", container]);
    docker_ok(&["rm", "--force", container]);
    docker_ok(&["rmi", image]);
    assert!(made, "cannot make the lab's `cache` container");

    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(
        out.contains(&format!(
            "a container named `{container}` exists that todobackend did not make"
        )),
        "{out}"
    );
    assert!(still_there, "the hand-made container was removed:\n{out}");
}
