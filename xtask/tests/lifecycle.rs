//! The lifecycle of what a test run makes on the engine, end to end on a real engine: whatever
//! ends a run (SIGKILL, a hang-up, a closed pipe, Ctrl-C pressed again and again, a probe or an
//! engine that never answers), nothing of it stays behind for long, and nothing of anyone
//! else's is touched. Each test works on its own copy of the checkout and finds what its runs
//! made only by that copy's label. Without an engine they say SKIPPED; under CI=true they fail.

mod support;

use std::fs;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{
    A_RUN_ENDS_WITHIN, Checkout, DATABASE_READY_WITHIN, Finished, Running, SIGHUP, SIGINT, SIGKILL, docker_lines,
    docker_ok, left_on_engine, run_to_end, signal_group, signal_process, tests_ran, wait_until_nothing_left,
};

/// The line a run prints once its database answers a real query.
const DATABASE_READY: &str = "s after `docker run`";
/// The issue's deadline for what a stopped run made to be gone.
const TEN_S: Duration = Duration::from_secs(10);

/// What is left of `deadline` counted from `since`.
fn remaining(deadline: Duration, since: Instant) -> Duration {
    deadline.saturating_sub(since.elapsed())
}

/// Starts `test --settings test` in `copy` and waits until its database is ready.
fn a_run_with_its_database_ready(copy: &Checkout) -> Running {
    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line(DATABASE_READY, DATABASE_READY_WITHIN);
    run
}

fn assert_nothing_left(left: &[String], copy: &Checkout, when: &str, output: &str) {
    assert!(
        left.is_empty(),
        "{when}, still labelled todobackend.checkout={}:\n  {}\nThe run printed:\n{output}",
        copy.root().display(),
        left.join("\n  ")
    );
}

/// Sends `signal` to a run of `copy` once its database is ready; asserts that nothing it made
/// is left 10 s on, and returns how the run ended.
fn signal_a_run_and_find_nothing_left(copy: &Checkout, signal: i32, name: &str) -> Finished {
    let run = a_run_with_its_database_ready(copy);
    signal_process(run.pid(), signal);
    let sent = Instant::now();
    let left = wait_until_nothing_left(copy, TEN_S);
    let finished = run.finish(remaining(Duration::from_secs(15), sent));
    assert_nothing_left(&left, copy, &format!("10 s after {name}"), &finished.output());
    finished
}

#[test]
fn a_sigkilled_run_leaves_nothing_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    signal_a_run_and_find_nothing_left(&Checkout::copy("sigkill"), SIGKILL, "SIGKILL");
}

#[test]
fn a_run_whose_terminal_hangs_up_leaves_nothing_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    let finished = signal_a_run_and_find_nothing_left(&Checkout::copy("sighup"), SIGHUP, "SIGHUP");
    assert_eq!(
        finished.code(),
        Some(129),
        "SIGHUP: {} (want exit code 129):\n{}",
        finished.how(),
        finished.output()
    );
}

#[test]
fn a_run_piped_into_head_exits_quietly_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("head");
    let mut bash = copy.command("bash");
    bash.args([
        "-c",
        r#"set -o pipefail; "$XTASK" test --settings test 2>&1 | head -9; echo "status=${PIPESTATUS[0]}" >&2"#,
    ])
    .env("XTASK", env!("CARGO_BIN_EXE_xtask"));

    let finished = run_to_end(bash, A_RUN_ENDS_WITHIN);
    let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));

    let piped: String = finished.stdout.iter().map(|(_, line)| format!("{line}\n")).collect();
    assert!(
        finished.killed_after.is_none(),
        "the pipeline never ended: {}\n{}",
        finished.how(),
        finished.output()
    );
    let status = finished
        .stderr
        .iter()
        .find_map(|(_, line)| line.strip_prefix("status="))
        .unwrap_or_else(|| panic!("bash printed no status:\n{}", finished.output()))
        .to_string();
    assert!(
        status != "134" && status != "101",
        "the xtask exited {status} (101: a panic, 134: an abort) once `head` closed the pipe; \
         the pipe got:\n{piped}"
    );
    assert!(!piped.contains("panicked"), "the pipe got a panic:\n{piped}");
    assert_nothing_left(&left, &copy, "10 s after the pipeline ended", &piped);
}

#[test]
fn repeated_ctrl_c_never_leaks_a_thing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("ctrl-c");
    for round in 1..=10 {
        let apart = Duration::from_millis(if round % 2 == 0 { 20 } else { 100 });
        let run = a_run_with_its_database_ready(&copy);

        // A terminal sends Ctrl-C to its whole foreground job: the xtask and all it started.
        let first = Instant::now();
        for press in 0..4 {
            if press > 0 {
                std::thread::sleep(apart);
            }
            signal_group(run.pid(), SIGINT);
        }
        let finished = run.finish(remaining(Duration::from_secs(15), first));
        let took = finished.ended - first;
        let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));

        let mut wrong = Vec::new();
        if finished.code() != Some(130) {
            wrong.push(format!("it ended with {} (want exit code 130)", finished.how()));
        }
        if took > Duration::from_secs(15) {
            wrong.push(format!("it ended {took:?} after the first press (want within 15 s)"));
        }
        if !left.is_empty() {
            wrong.push(format!("10 s after it ended, still there:\n  {}", left.join("\n  ")));
        }
        assert!(
            wrong.is_empty(),
            "round {round}, 4 x Ctrl-C {apart:?} apart to the process group of a run in {}:\n{}\nThe run printed:\n{}",
            copy.root().display(),
            wrong.join("\n"),
            finished.output()
        );
    }
}

/// An "engine" that accepts connections and never answers: a daemon that hangs, a port
/// forward to nowhere. Held connections stay open until the value is dropped.
struct SilentEngine {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentEngine {
    fn start() -> SilentEngine {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((connection, _)) => held.push(connection),
                    Err(err) if err.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentEngine {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn an_engine_that_accepts_and_never_answers_is_reported_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("silent-engine");
    let engine = SilentEngine::start();
    let host = engine.host();

    let mut wrong = Vec::new();
    for task in ["test", "doctor"] {
        let mut xtask = copy.xtask(&[task]);
        xtask.env("DOCKER_HOST", &host).env_remove("DOCKER_CONTEXT");
        let started = Instant::now();
        let finished = run_to_end(xtask, Duration::from_secs(15));
        let took = finished.ended - started;
        let out = finished.output();
        let failed_in_time = matches!(finished.code(), Some(code) if code != 0) && took <= Duration::from_secs(10);
        if !failed_in_time || !out.contains(&host) {
            wrong.push(format!(
                "`{task}` with DOCKER_HOST={host}: {} after {took:?} (want a non-zero exit within 10 s \
                 naming {host}):\n{out}",
                finished.how()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The copy's database never proves ready: its probe hangs, with the issue's timeouts.
fn with_a_readiness_probe_that_hangs(copy: &Checkout, timeout_secs: u32) {
    copy.edit("Cargo.toml", |manifest| {
        manifest
            .lines()
            .map(|line| {
                if line.starts_with("ready = '") {
                    "ready = 'sleep 100'".to_string()
                } else if line == "ready_timeout_secs = 60" {
                    format!("ready_timeout_secs = {timeout_secs}")
                } else {
                    line.to_string()
                }
            })
            .map(|line| line + "\n")
            .collect()
    });
    let manifest = fs::read_to_string(copy.root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("ready = 'sleep 100'\n")
            && manifest.contains(&format!("ready_timeout_secs = {timeout_secs}\n")),
        "{manifest}"
    );
}

#[test]
fn a_readiness_probe_that_hangs_is_cut_off_at_its_timeout() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("probe-hangs");
    with_a_readiness_probe_that_hangs(&copy, 5);

    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    let (waiting, _) = run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    let finished = run.finish(Duration::from_secs(60));
    let took = finished.ended - waiting;
    let left = wait_until_nothing_left(&copy, TEN_S);
    let out = finished.output();

    assert!(
        took < Duration::from_secs(7),
        "from `=> Waiting for` to its end took {took:?} ({}), want under 7 s with ready_timeout_secs = 5:\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(out.contains("was not ready after 5 s"), "{out}");
    assert_nothing_left(&left, &copy, "after the run", &out);
}

#[test]
fn ctrl_c_while_the_readiness_probe_hangs_stops_within_2_s_and_starts_no_tests() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("probe-hangs-ctrl-c");
    with_a_readiness_probe_that_hangs(&copy, 60);

    let mut run = Running::start(copy.xtask(&["test", "--settings", "test"]));
    run.wait_for_line("=> Waiting for", DATABASE_READY_WITHIN);
    std::thread::sleep(Duration::from_secs(1));
    signal_process(run.pid(), SIGINT);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(15));
    let took = finished.ended - sent;
    let left = wait_until_nothing_left(&copy, remaining(TEN_S, finished.ended));
    let out = finished.output();

    assert!(
        took <= Duration::from_secs(2),
        "Ctrl-C during the readiness probe: {} {took:?} after it (want exit code 130 within 2 s):\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(130), "{}:\n{out}", finished.how());
    assert!(
        !finished.has_line(|line| line.trim_start().starts_with("=> Running the test suite")),
        "the tests started:\n{out}"
    );
    assert!(
        !finished.has_line(|line| line.trim_start().starts_with("ready ")),
        "the database was reported ready:\n{out}"
    );
    assert_nothing_left(&left, &copy, "10 s after it ended", &out);
}

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
    let label = format!("label={}", copy.label());
    let deadline = Instant::now() + within;
    loop {
        let running = docker_lines(&[
            "ps",
            "--filter",
            &label,
            "--filter",
            "status=running",
            "--format",
            "{{.Names}}",
        ])
        .unwrap_or_default();
        if let Some(name) = running
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
fn two_runs_in_one_checkout_each_leave_a_complete_set_of_reports() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("two-runs");
    let reports = copy.root().join("target/reports");
    // Two runs interleave their copy-outs only now and then: several rounds, each from no reports.
    for round in 1..=20 {
        let _ = fs::remove_dir_all(&reports);
        let runs = [(); 2].map(|()| Running::start(copy.xtask(&["test"])));
        let finished: Vec<Finished> = runs.into_iter().map(|run| run.finish(A_RUN_ENDS_WITHIN)).collect();

        let mut ran = Vec::new();
        for run in &finished {
            assert_eq!(run.code(), Some(0), "round {round}: {}:\n{}", run.how(), run.output());
            ran.push(tests_ran(&run.output()));
        }
        assert_eq!(ran[0], ran[1], "round {round}: the two runs ran different suites");
        let mut entries: Vec<String> = fs::read_dir(&reports)
            .unwrap_or_else(|err| panic!("round {round}: {}: {err}", reports.display()))
            .map(|entry| {
                let entry = entry.unwrap();
                let slash = if entry.path().is_dir() { "/" } else { "" };
                format!("{}{slash}", entry.file_name().to_string_lossy())
            })
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["coverage.xml", "junit.xml"],
            "round {round}: target/reports/ after two runs at once in {}",
            copy.root().display()
        );
        let junit = fs::read_to_string(reports.join("junit.xml")).unwrap();
        assert_eq!(junit.matches("<testcase ").count(), ran[0], "round {round}:\n{junit}");
        let coverage = fs::read_to_string(reports.join("coverage.xml")).unwrap();
        assert!(coverage.contains("<coverage "), "round {round}:\n{coverage}");
    }
}

/// A line that names coverage.xml other than the one that says the reports are there.
fn names_coverage_xml(finished: &Finished) -> bool {
    finished.has_line(|line| line.contains("coverage.xml") && !line.contains("are in"))
}

#[test]
fn a_missing_coverage_report_is_named_and_fails_the_run_under_ci() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("no-coverage");
    // Coverage measures a package that is never imported: `coverage xml` writes nothing.
    copy.write("src/.coveragerc", "[run]\nsource = nosuchpackage\n");

    // Under CI the run builds the copy's own dev image from its source.
    let mut ci = copy.xtask(&["test"]);
    ci.env("CI", "true");
    let ci = run_to_end(ci, A_RUN_ENDS_WITHIN);
    let mut local = copy.xtask(&["test"]);
    local.env_remove("CI");
    let local = run_to_end(local, A_RUN_ENDS_WITHIN);

    let mut wrong = Vec::new();
    let ci_out = ci.output();
    if !matches!(ci.code(), Some(code) if code != 0) {
        wrong.push(format!("CI=true: {} (want a failure)", ci.how()));
    }
    if !names_coverage_xml(&ci) {
        wrong.push("CI=true: no line names coverage.xml as missing".to_string());
    }
    if ci_out.contains("Reports (junit.xml, coverage.xml) are in") {
        wrong.push("CI=true: it says the reports (junit.xml, coverage.xml) are there".to_string());
    }
    let local_out = local.output();
    if local.code() != Some(0) {
        wrong.push(format!("without CI: {} (want exit code 0)", local.how()));
    }
    if !names_coverage_xml(&local) {
        wrong.push("without CI: no line names coverage.xml as missing".to_string());
    }
    assert!(
        wrong.is_empty(),
        "coverage wrote no coverage.xml:\n{}\n\nThe run with CI=true printed:\n{ci_out}\nThe run without CI printed:\n{local_out}",
        wrong.join("\n")
    );
}

#[test]
fn a_docker_context_that_does_not_exist_is_named_rather_than_blamed_on_the_engine() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("no-context");
    for task in ["test", "doctor"] {
        let mut xtask = copy.xtask(&[task]);
        xtask.env("DOCKER_CONTEXT", "nosuch").env_remove("DOCKER_HOST");
        let finished = run_to_end(xtask, Duration::from_secs(30));
        let out = finished.output();
        assert_eq!(finished.code(), Some(1), "`{task}`: {}:\n{out}", finished.how());
        assert!(
            out.contains("the docker client cannot start") && out.contains("context \"nosuch\""),
            "`{task}` does not say the context is the problem:\n{out}"
        );
        assert!(!out.contains("Start it"), "`{task}` tells to start an engine:\n{out}");
    }
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

/// The CA bundles staged in `copy`'s build context (`docker/base/host-ca/*.crt`).
fn staged_ca_bundles(copy: &Checkout) -> Vec<String> {
    let dir = copy.root().join("docker/base/host-ca");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".crt"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_ca_bundle_a_run_stages_is_its_own_and_goes_with_it_when_it_is_sigkilled() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("staged-ca");
    // --baked builds, so the run stages the host's bundle (where the host has one).
    let mut run = Running::start(copy.xtask(&["test", "--baked", "--settings", "test"]));
    run.wait_for_line(DATABASE_READY, DATABASE_READY_WITHIN);
    let printed = run.printed();
    let run_name = support::run_name(&printed);
    let staged = staged_ca_bundles(&copy);
    signal_process(run.pid(), SIGKILL);
    let deadline = Instant::now() + TEN_S;
    let mut left = staged_ca_bundles(&copy);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        left = staged_ca_bundles(&copy);
    }
    let killed = run.finish(Duration::from_secs(5));

    let expected: Vec<String> = if printed.contains("trusting the host's CA bundle") {
        vec![format!("{run_name}.crt")]
    } else {
        Vec::new()
    };
    assert_eq!(staged, expected, "staged while the run was alive:\n{printed}");
    assert!(
        left.is_empty(),
        "10 s after SIGKILL, still staged in {}/docker/base/host-ca: {left:?}\nThe run printed:\n{}",
        copy.root().display(),
        killed.output()
    );
}
