//! Every task, end to end, on the engines users have besides Docker's classic builder (which
//! `e2e/` covers): BuildKit (Debian's 20.10 client, `DOCKER_BUILDKIT=1`), Podman behind a
//! `docker` shim, and a remote engine reached through `DOCKER_HOST=tcp://` that sees nothing of
//! the checkout. Each works on a copy whose directory name has spaces, dots, capitals and
//! underscores, under names of its own. A test whose engine cannot be had here says SKIPPED;
//! under CI=true it fails instead.

mod support;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{
    Checkout, Finished, Running, SIGINT, free_port, http, left_on_engine, run_to_end, signal_process, tests_ran,
};

/// A whole story's step, images built if need be: a bound so a broken run fails, not a goal.
const A_STEP_ENDS_WITHIN: Duration = Duration::from_secs(600);

fn step(copy: &Checkout, cwd: &Path, args: &[&str]) -> Finished {
    let mut command = copy.xtask(args);
    command.current_dir(cwd);
    step_with(command, args)
}

fn step_with(command: Command, args: &[&str]) -> Finished {
    let finished = run_to_end(command, A_STEP_ENDS_WITHIN);
    assert_eq!(
        finished.code(),
        Some(0),
        "{args:?}: {}\n{}",
        finished.how(),
        finished.output()
    );
    finished
}

/// What the story expects the engine to say about itself.
struct Engine {
    kind: &'static str,
    builder: &'static str,
    local: bool,
}

/// The tasks a user runs, in order, from a subdirectory of the copy: what doctor says, the
/// images and the cache, the suite (src/ mounted only on a local engine), the suite against a
/// database that is gone after, serving it, the wheels, the release image accepted over HTTP,
/// what a dead run left found by doctor, and a clean that leaves nothing of the copy's.
fn the_whole_story(copy: &Checkout, engine: Engine) {
    let prefix = copy.prefix();
    let cwd = copy.root().join("src/todo");
    // The project's images on this engine before the story: no test but this one uses it.
    let images_before = project_images(copy);
    let doctor = step(copy, &cwd, &["doctor"]).output();
    for said in [
        format!("ok    engine: {} ", engine.kind),
        format!("ok    builder: {}", engine.builder),
        if engine.local {
            "ok    local engine"
        } else {
            "ok    remote engine"
        }
        .to_string(),
    ] {
        assert!(doctor.contains(&said), "doctor does not say {said:?}:\n{doctor}");
    }

    step(copy, &cwd, &["base-image"]);
    step(copy, &cwd, &["dev-image"]);
    step(copy, &cwd, &["cache"]);
    let again = step(copy, &cwd, &["cache"]).output();
    assert!(again.contains(&format!("`{prefix}-cache` exists")), "{again}");

    let test = step(copy, &cwd, &["test"]).output();
    assert!(
        tests_ran(&test) >= 12 && test.lines().any(|line| line == "OK"),
        "{test}"
    );
    // CI=true tests the source baked into the image everywhere.
    let mounts = engine.local && std::env::var("CI").as_deref() != Ok("true");
    let mount = format!("{}/src:/application", copy.root().display());
    // Into a container of the run's own, or into the checkout's worker (locally, off CI)
    let mounted = test
        .lines()
        .any(|line| (line.starts_with("$ docker create") || line.starts_with("$ docker run")) && line.contains(&mount));
    assert_eq!(
        mounted, mounts,
        "src/ mounted: {mounted}, local engine: {}\n{test}",
        engine.local
    );
    let says_why = test.contains("cannot see this checkout: testing the source baked into a fresh image");
    assert_eq!(says_why, !engine.local, "{test}");
    let junit = fs::read_to_string(copy.root().join("target/reports/junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), tests_ran(&test), "{junit}");

    let with_db = step(copy, &cwd, &["test", "--settings", "test"]).output();
    assert!(
        tests_ran(&with_db) >= 12 && with_db.contains("=> Starting db "),
        "{with_db}"
    );
    assert_eq!(left_on_engine(copy), Vec::<String>::new(), "{with_db}");

    // Served on the engine's host (this machine's loopback for each engine here), from the
    // baked source where the engine cannot see the checkout.
    let port = free_port();
    let mut serve = copy.xtask(&["serve", "--settings", "test", "--port", &port.to_string()]);
    serve.current_dir(&cwd);
    let mut serving = Running::start(serve);
    serving.wait_for_line(
        &format!("=> Serving at http://127.0.0.1:{port}/todos"),
        A_STEP_ENDS_WITHIN,
    );
    let (status, _, created) = http(port, "POST", "/todos", Some(r#"{"title":"served"}"#));
    assert_eq!(status, 201, "{created}");
    signal_process(serving.pid(), SIGINT);
    let served = serving.finish(Duration::from_secs(30));
    assert_eq!(served.code(), Some(130), "{}:\n{}", served.how(), served.output());
    let says_why = served
        .output()
        .contains("cannot see this checkout: serving the source baked into a fresh image");
    assert_eq!(says_why, !engine.local, "{}", served.output());
    assert_eq!(left_on_engine(copy), Vec::<String>::new(), "{}", served.output());

    step(copy, &cwd, &["build"]);
    let wheels: Vec<String> = fs::read_dir(copy.root().join("target/wheels"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for wheel in ["todobackend-", "django-", "mysqlclient-"] {
        assert!(
            wheels.iter().any(|name| name.starts_with(wheel)),
            "no {wheel}*.whl in {wheels:?}"
        );
    }

    // The release image from those wheels, run with its database and accepted over HTTP.
    let release = step(copy, &cwd, &["release"]).output();
    let acceptance = fs::read_to_string(copy.root().join("target/reports/acceptance.xml")).unwrap();
    assert!(
        acceptance.matches("<testcase ").count() >= 20 && !acceptance.contains("<failure"),
        "{acceptance}\n{release}"
    );
    assert_eq!(left_on_engine(copy), Vec::<String>::new(), "{release}");

    // What a run whose owner died left on the engine, its files gone with target/: doctor
    // finds it by its labels, whatever the engine's listing formats, and removes it.
    let dead = format!("{prefix}-dead01");
    // (The copy's path has spaces: the arguments one by one.)
    let checkout = format!("--label={}", copy.label());
    let run = format!("--label=todobackend.run={dead}");
    let container = format!("{dead}-db");
    let dev = format!("{prefix}-dev");
    for args in [
        vec!["create", "--name", &container, &checkout, &run, &dev, "true"],
        vec!["network", "create", &checkout, &run, &dead],
    ] {
        copy.docker_lines(&args).unwrap();
    }
    let doctor = step(copy, &cwd, &["doctor"]).output();
    assert!(
        doctor.contains(&format!("Run {dead} ended without cleaning up")),
        "{doctor}"
    );
    assert_eq!(left_on_engine(copy), Vec::<String>::new(), "{doctor}");

    step(copy, &cwd, &["clean", "--all", "--images"]);
    assert_eq!(left_on_engine(copy), Vec::<String>::new());
    let images = copy
        .docker_lines(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .unwrap();
    let ours: Vec<&String> = images.iter().filter(|image| image.contains(prefix)).collect();
    assert!(ours.is_empty(), "left after clean --all --images: {ours:?}");
    // Nor one untagged (BuildKit makes the `tools` stage an image apart): only the OS image,
    // which every checkout shares, may stay.
    let left: Vec<String> = project_images(copy)
        .into_iter()
        .filter(|image| !images_before.contains(image) && !image.ends_with(" os"))
        .collect();
    assert_eq!(
        left,
        Vec::<String>::new(),
        "images the story made, left after clean --all --images"
    );
}

/// Each image of the project on the copy's engine, tagged or not, as `<id> <kind>`
/// (`todobackend.image`, which each of its Dockerfiles sets).
fn project_images(copy: &Checkout) -> Vec<String> {
    let ids = copy
        .docker_lines(&[
            "image",
            "ls",
            "--all",
            "--quiet",
            "--no-trunc",
            "--filter",
            "label=todobackend.image",
        ])
        .unwrap();
    if ids.is_empty() {
        return ids;
    }
    let format = "{{.Id}} {{index .Config.Labels \"todobackend.image\"}}";
    let mut inspect = vec!["image", "inspect", "--format", format];
    inspect.extend(ids.iter().map(String::as_str));
    copy.docker_lines(&inspect).unwrap()
}

#[test]
fn buildkit_runs_every_task_from_a_copy_named_with_spaces_dots_and_capitals() {
    // Its own names and builder: no other test of this file uses this engine.
    if !support::engine_answers() {
        return;
    }
    // Debian's docker.io puts a 20.10 client with BuildKit built in at /usr/bin/docker.
    if !support::here(
        Path::new("/usr/bin/docker").exists(),
        "the engine tests need the 20.10 client at /usr/bin/docker",
    ) {
        return;
    }
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap());
    let copy = Checkout::copy("BuildKit Story.v2_x")
        .env("PATH", &path)
        .env("DOCKER_BUILDKIT", "1");
    let engine = Engine {
        kind: "Docker",
        builder: "BuildKit",
        local: true,
    };
    the_whole_story(&copy, engine);
}

/// A `docker` that runs Podman, as Fedora's podman-docker package installs, and the
/// containers.conf rootful Podman needs where it may not raise containers' limits.
struct PodmanShim {
    dir: PathBuf,
}

impl PodmanShim {
    fn new() -> PodmanShim {
        let dir = std::env::temp_dir().join(format!("xtask-podman-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let docker = dir.join("docker");
        fs::write(&docker, "#!/bin/sh\nexec podman \"$@\"\n").unwrap();
        fs::set_permissions(&docker, fs::Permissions::from_mode(0o755)).unwrap();
        let limits = fs::read_to_string("/proc/self/limits").unwrap();
        let hard = |row: &str| {
            let line = limits.lines().find(|line| line.starts_with(row)).unwrap();
            line[row.len()..].split_whitespace().nth(1).unwrap().to_string()
        };
        // Podman 4.3 refuses a process limit above the kernel's pid_max too.
        let pid_max: u64 = fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let nofile = hard("Max open files");
        let nproc = hard("Max processes")
            .parse::<u64>()
            .map_or(pid_max, |hard| hard.min(pid_max));
        fs::write(
            dir.join("containers.conf"),
            format!("[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n"),
        )
        .unwrap();
        PodmanShim { dir }
    }
}

impl Drop for PodmanShim {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn podman_behind_a_docker_shim_runs_every_task_and_doctor_is_truthful_about_its_limits() {
    if !support::here(which("podman"), "the engine tests need podman") {
        return;
    }
    let shim = PodmanShim::new();
    let path = format!("{}:{}", shim.dir.display(), std::env::var("PATH").unwrap());
    let conf = shim.dir.join("containers.conf").display().to_string();
    let copy = Checkout::copy("Podman Story.v2_x")
        .env("PATH", &path)
        .env("CONTAINERS_CONF", &conf);
    let engine = Engine {
        kind: "Podman",
        builder: "Buildah",
        local: true,
    };

    // Doctor's verdict on Podman's default limits is what Podman does with them. An image to
    // try them with comes first.
    let cwd = copy.root().join("src/todo");
    step(&copy, &cwd, &["dev-image"]);
    let starts = copy
        .command("docker")
        .env_remove("CONTAINERS_CONF")
        .args(["run", "--rm", "--entrypoint", "true", &format!("{}-dev", copy.prefix())])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success();
    let mut doctor = copy.xtask(&["doctor"]);
    doctor.env_remove("CONTAINERS_CONF");
    let doctor = run_to_end(doctor, A_STEP_ENDS_WITHIN);
    let refuses = doctor.has_line(|line| line.starts_with("FAIL  rootful Podman cannot start containers here"));
    assert_eq!(
        refuses,
        !starts,
        "containers start: {starts}; doctor:\n{}",
        doctor.output()
    );
    if refuses {
        assert_eq!(doctor.code(), Some(1), "{}", doctor.output());
        let mut test = copy.xtask(&["test"]);
        test.env_remove("CONTAINERS_CONF");
        let test = run_to_end(test, A_STEP_ENDS_WITHIN);
        assert_eq!(test.code(), Some(1), "{}", test.output());
        assert!(
            test.has_line(|line| line.contains("default_ulimits")),
            "{}",
            test.output()
        );
        assert!(
            !test.has_line(|line| line.starts_with("$ ")),
            "it ran something:\n{}",
            test.output()
        );
    }

    the_whole_story(&copy, engine);
}

/// A second Docker engine on this machine, reached over TCP on loopback: to the xtask a remote
/// engine, with a data root, bridge and address pool of its own, so nothing of it meets the
/// first engine's. Stopped and removed when dropped.
struct RemoteEngine {
    host: String,
    dir: PathBuf,
    bridge: &'static str,
    dockerd: Child,
}

impl RemoteEngine {
    fn start() -> RemoteEngine {
        let dir = std::env::temp_dir().join(format!("xtask-remote-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let bridge = "xtask-remote";
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        ip(&["link", "delete", bridge]);
        assert!(
            ip(&["link", "add", bridge, "type", "bridge"]),
            "cannot make the bridge {bridge}"
        );
        assert!(ip(&["addr", "add", "10.123.0.1/24", "dev", bridge]));
        assert!(ip(&["link", "set", bridge, "up"]));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let host = format!("tcp://127.0.0.1:{port}");
        let log = fs::File::create(dir.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args(["-H", &host, "--bridge", bridge])
            .args(["--default-address-pool", "base=10.124.0.0/16,size=24"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let engine = RemoteEngine {
            host,
            dir,
            bridge,
            dockerd,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !engine.answers() {
            assert!(
                Instant::now() < deadline,
                "the second dockerd did not answer at {} within 60 s:\n{}",
                engine.host,
                fs::read_to_string(engine.dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        engine
    }

    fn answers(&self) -> bool {
        Command::new("docker")
            .args(["-H", &self.host, "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for RemoteEngine {
    fn drop(&mut self) {
        support::signal_process(i32::try_from(self.dockerd.id()).unwrap(), 15);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.dockerd.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.dockerd.kill();
        let _ = self.dockerd.wait();
        let _ = Command::new("ip").args(["link", "delete", self.bridge]).status();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn a_remote_engine_runs_every_task_on_the_source_baked_into_its_images() {
    let root = fs::metadata("/proc/self").is_ok_and(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0);
    if !support::here(
        root && which("ip") && which("dockerd"),
        "the engine tests need root, `ip` and `dockerd` to start a second engine",
    ) {
        return;
    }
    let remote = RemoteEngine::start();
    // Dropped before the engine: its cleanup needs it.
    let copy = Checkout::copy("Remote Story.v2_x").env("DOCKER_HOST", &remote.host);
    let engine = Engine {
        kind: "Docker",
        builder: "classic",
        local: false,
    };
    the_whole_story(&copy, engine);
    drop(copy);
    drop(remote);
}

fn which(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}
