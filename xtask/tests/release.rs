//! `cargo xtask release` end to end, as a user runs it: the real engine builds the wheels and
//! the release image, runs it with a real database, and the acceptance tests call it over
//! HTTP. Each scenario on a copy of the checkout of its own, under names of its own
//! (`support::Checkout`), whose drop fails the test if anything of it is left on the engine.

mod support;

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Checkout, Finished, Running, SIGINT, left_on_engine, run_name, run_to_end, signal_process};

/// A release builds four images and runs the suite of acceptance tests: a bound only, so a
/// broken run fails instead of hanging.
const A_RELEASE_ENDS_WITHIN: Duration = Duration::from_secs(600);

fn release(copy: &Checkout, args: &[&str]) -> Finished {
    let mut all = vec!["release"];
    all.extend(args);
    run_to_end(copy.xtask(&all), A_RELEASE_ENDS_WITHIN)
}

fn acceptance_report(copy: &Checkout) -> String {
    let path = copy.root().join("target/reports/acceptance.xml");
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The image's label `key`.
fn label(copy: &Checkout, image: &str, key: &str) -> String {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    copy.docker_lines(&["image", "inspect", "--format", &format, image])
        .unwrap()
        .concat()
}

#[test]
fn release_passes_the_acceptance_tests_leaves_their_report_and_removes_its_environment() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release");
    let finished = release(&copy, &[]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());

    // Every step echoed, the app proved healthy before the tests ran.
    for step in [
        "=> Building wheels",
        "=> Building the release image",
        "$ docker create --name",
        "django-admin migrate --noinput",
        "=> Waiting for",
        "=> Running the acceptance tests",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }
    let report = acceptance_report(&copy);
    assert!(report.matches("<testcase ").count() >= 20, "{report}");
    assert!(!report.contains("<failure") && !report.contains("<error"), "{report}");
    for spec in [
        "test_can_create_a_todo_with_an_order_field",
        "test_a_preflight_for_a_patch_of_a_todo_is_allowed",
        "test_an_unknown_todo_is_404_for_every_method",
    ] {
        assert!(report.contains(spec), "{spec} not in {report}");
    }
    assert!(
        left_on_engine(&copy).is_empty(),
        "left: {:?}\n{out}",
        left_on_engine(&copy)
    );

    // The image as a user inspects it: its version, not root, and within 30 MB of the base.
    let image = format!("{}-release", copy.prefix());
    assert_eq!(label(&copy, &image, "org.opencontainers.image.version"), "unknown");
    assert!(
        label(&copy, &image, "org.opencontainers.image.created").starts_with("20"),
        "{out}"
    );
    let user = copy
        .docker_lines(&["image", "inspect", "--format", "{{.Config.User}}", &image])
        .unwrap()
        .concat();
    assert!(!user.is_empty() && !user.starts_with("0") && user != "root", "{user}");
    let size = |image: &str| -> u64 {
        copy.docker_lines(&["image", "inspect", "--format", "{{.Size}}", image])
            .unwrap()
            .concat()
            .parse()
            .unwrap()
    };
    let base = format!("{}-base", copy.prefix());
    let grown = size(&image) - size(&base);
    assert!(
        grown <= 30_000_000,
        "the release image is {grown} bytes bigger than the base"
    );
}

/// Where no registry answers, a checkout that names an OS image of its own makes it from
/// Debian packages (mmdebstrap), from nothing: every project image builds on it (apt-get
/// update and install in each), and the release made of them passes its acceptance tests.
#[test]
fn an_os_image_made_from_debian_packages_carries_a_release_that_passes_and_goes_with_clean() {
    let Some(_engine) = support::engine() else { return };
    let registry_image = support::docker_ok(&["image", "inspect", "debian:bookworm-slim"]);
    if !support::here(
        !registry_image,
        "an engine without debian:bookworm-slim, which every build prefers to an OS image made from packages",
    ) {
        return;
    }
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !support::here(root, "root, which mmdebstrap needs to make the OS image") {
        return;
    }
    let copy = Checkout::copy("own-os");
    let os = format!("{}-os:bookworm", copy.prefix());
    copy.edit("Cargo.toml", |manifest| format!("{manifest}os_image = \"{os}\"\n"));
    let finished = release(&copy, &[]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    for said in [
        format!("=> No registry answered: building the OS image {os} from Debian packages"),
        " mmdebstrap --variant=minbase --mode=unshare --format=tar ".to_string(),
        "$ docker import ".to_string(),
        format!("--build-arg OS_IMAGE={os} "),
    ] {
        assert!(out.contains(&said), "no {said:?} in:\n{out}");
    }

    // Slim as the registry's: no documentation but the licences, no manual pages, no apt
    // lists or packages, and apt's sources with the updates and the security fixes.
    let inside = copy
        .docker_lines(&[
            "run",
            "--rm",
            &os,
            "sh",
            "-c",
            "grep -h '^deb ' /etc/apt/sources.list; \
             find /usr/share/doc /usr/share/man /var/lib/apt/lists /var/cache/apt -type f \
               ! -name copyright ! -name lock | sed 's/^/left: /'; \
             test -L /bin && echo merged-usr",
        ])
        .unwrap();
    for suite in [" bookworm main", " bookworm-updates main", " bookworm-security main"] {
        assert!(inside.iter().any(|line| line.ends_with(suite)), "{inside:?}");
    }
    assert!(!inside.iter().any(|line| line.starts_with("left: ")), "{inside:?}");
    assert!(inside.iter().any(|line| line == "merged-usr"), "{inside:?}");
    let size: u64 = copy
        .docker_lines(&["image", "inspect", "--format", "{{.Size}}", &os])
        .unwrap()
        .concat()
        .parse()
        .unwrap();
    assert!(size < 100_000_000, "the OS image is {size} bytes");
    // Dropping the copy runs its `clean --all --images`, which must remove this image too.
}

#[test]
fn a_serializer_that_drops_order_fails_release_with_a_report_naming_the_failing_tests() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-broken");
    copy.edit("src/todo/serializers.py", |serializer| {
        serializer.replace(
            "fields = ['url', 'title', 'completed', 'order']",
            "fields = ['url', 'title', 'completed']",
        )
    });
    let finished = release(&copy, &[]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    // The run's output names each failing test, as its report does.
    assert!(
        out.lines()
            .any(|line| line.starts_with("FAIL") && line.contains("test_can_create_a_todo_with_an_order_field")),
        "{out}"
    );
    assert!(out.contains("The acceptance tests failed with exit code 1"), "{out}");
    let report = acceptance_report(&copy);
    let failed = |test: &str| {
        report
            .split("<testcase ")
            .any(|case| case.contains(&format!("name=\"{test}\"")) && case.contains("<failure"))
    };
    for test in [
        "test_can_create_a_todo_with_an_order_field",
        "test_can_patch_a_todo_to_change_its_order",
        "test_remembers_changes_to_a_todos_order",
    ] {
        assert!(failed(test), "{test} is not a failure in {report}");
    }
    assert!(!failed("test_responds_to_a_get"), "{report}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}", left_on_engine(&copy));

    // An image whose acceptance tests failed is never published: refused before any push.
    let publish = run_to_end(
        copy.xtask(&["publish", "--registry", "127.0.0.1:9"]),
        Duration::from_secs(60),
    );
    let said = publish.output();
    assert_eq!(publish.code(), Some(1), "{said}");
    assert!(said.contains("acceptance tests have not passed"), "{said}");
    assert!(!said.contains("$ docker"), "{said}");
}

#[test]
fn ctrl_c_while_the_app_starts_stops_the_release_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-sigint");
    let mut run = Running::start(copy.xtask(&["release"]));
    run.wait_for_line("=> Starting the app as", A_RELEASE_ENDS_WITHIN);
    signal_process(run.pid(), SIGINT);
    let sent = Instant::now();
    let finished = run.finish(Duration::from_secs(30));
    let out = finished.output();
    assert!(
        finished.ended - sent < Duration::from_secs(15),
        "{}:\n{out}",
        finished.how()
    );
    assert_eq!(finished.code(), Some(130), "{}:\n{out}", finished.how());
    assert!(out.contains("interrupted by SIG"), "{out}");
    let run = run_name(&out);
    assert!(
        left_on_engine(&copy).is_empty(),
        "run {run} left: {:?}\n{out}",
        left_on_engine(&copy)
    );
    assert!(!copy.root().join("target/reports/acceptance.xml").exists(), "{out}");
}

#[test]
fn release_keep_leaves_the_app_answering_on_loopback_until_clean() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("release-keep");
    let finished = release(&copy, &["--keep"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    let url = out
        .split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:") && word.ends_with("/todos"))
        .unwrap_or_else(|| panic!("no http://127.0.0.1:PORT/todos in:\n{out}"))
        .to_string();
    // Only the app and its database stay, on their network.
    let left = left_on_engine(&copy);
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(left.iter().any(|line| line.contains("-app (Up")), "{left:?}");
    assert!(left.iter().any(|line| line.contains("-db (Up")), "{left:?}");

    // A client on the host uses it: a todo posted is listed, with a url that works from here.
    let posted = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, urllib.request as u\n\
             r = u.Request(sys.argv[1], data=b'{\"title\": \"kept\"}', method='POST', headers={'Content-Type': 'application/json'})\n\
             todo = json.load(u.urlopen(r, timeout=5))\n\
             print(json.load(u.urlopen(todo['url'], timeout=5))['title'])",
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&posted.stdout).trim(),
        "kept",
        "{}",
        String::from_utf8_lossy(&posted.stderr)
    );

    let cleaned = run_to_end(copy.xtask(&["clean"]), Duration::from_secs(120));
    let said = cleaned.output();
    assert_eq!(cleaned.code(), Some(0), "{said}");
    assert!(said.contains("kept up (`release --keep`)"), "{said}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}", left_on_engine(&copy));
}

/// A real registry (Debian's `docker-registry`) on a free port of the loopback, asking for a
/// user and password, its storage in a directory of its own; stopped and removed when dropped.
/// `None` (SKIPPED said) where the package is not installed; under CI=true that fails.
struct Registry {
    child: std::process::Child,
    dir: std::path::PathBuf,
    address: String,
}

const REGISTRY_USER: &str = "publisher";
const REGISTRY_PASSWORD: &str = "s3cret-Pa55word-for-the-test";

impl Registry {
    fn start(name: &str) -> Option<Registry> {
        if std::process::Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_err()
        {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI=true: the publish test needs Debian's docker-registry"
            );
            eprintln!("SKIPPED: no docker-registry (`apt-get install docker-registry`)");
            return None;
        }
        let dir = std::env::temp_dir().join(format!("xtask-registry-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        // bcrypt, the one scheme the registry's htpasswd takes, from the C library's crypt(3).
        let hashed = std::process::Command::new("python3")
            .args([
                "-W",
                "ignore",
                "-c",
                "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                REGISTRY_PASSWORD,
            ])
            .output()
            .unwrap();
        let hashed = String::from_utf8(hashed.stdout).unwrap();
        assert!(hashed.starts_with("$2"), "no bcrypt hash: {hashed:?}");
        fs::write(dir.join("htpasswd"), format!("{REGISTRY_USER}:{}", hashed.trim())).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {dir}/data\n\
             http:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: test\n    path: {dir}/htpasswd\n",
            dir = dir.display()
        );
        fs::write(dir.join("config.yml"), config).unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(std::process::Stdio::null())
            .stderr(fs::File::create(dir.join("registry.log")).unwrap())
            .spawn()
            .unwrap();
        let registry = Registry { child, dir, address };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&registry.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not listen on {}",
                registry.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Makes the copy a git repository whose one commit is tagged `tag`, as a clone is.
fn commit_and_tag(copy: &Checkout, tag: &str) {
    copy.write(".gitignore", "/target/\n__pycache__/\n/docker/base/host-ca/*.crt\n");
    let git = |args: &[&str]| {
        let status = copy
            .command("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "release"]);
    git(&["tag", tag]);
}

/// The pushed reference `publish` printed last on stdout.
fn pushed_digest(finished: &Finished) -> String {
    finished
        .stdout
        .last()
        .map(|(_, line)| line.clone())
        .unwrap_or_else(|| panic!("nothing on stdout:\n{}", finished.output()))
}

#[test]
fn publish_pushes_the_accepted_release_to_a_registry_as_version_commit_and_latest_again_and_again() {
    let Some(_engine) = support::engine() else { return };
    let Some(registry) = Registry::start("publish") else {
        return;
    };
    let docker_config = registry.dir.join("docker-config");
    fs::create_dir_all(&docker_config).unwrap();
    // The client's login lands in a configuration of the test's own, not the user's.
    let copy = Checkout::copy("publish").env("DOCKER_CONFIG", docker_config.to_str().unwrap());
    commit_and_tag(&copy, "v1.0.0");
    let released = release(&copy, &[]);
    assert_eq!(released.code(), Some(0), "{}", released.output());
    let repository = copy.prefix().to_string();
    let publish = |extra_env: bool| {
        let mut command = copy.xtask(&["publish", "--registry", &registry.address, "--repository", &repository]);
        if extra_env {
            command
                .env("TODOBACKEND_REGISTRY_USERNAME", REGISTRY_USER)
                .env("TODOBACKEND_REGISTRY_PASSWORD", REGISTRY_PASSWORD);
        }
        run_to_end(command, A_RELEASE_ENDS_WITHIN)
    };
    let name = format!("{}/{repository}", registry.address);
    let pulled: Vec<String> = ["v1.0.0", "latest"].iter().map(|tag| format!("{name}:{tag}")).collect();
    // What the test pulls is its to remove, before the copy's clean looks for leftovers.
    struct Untag<'a>(&'a Checkout, &'a [String]);
    impl Drop for Untag<'_> {
        fn drop(&mut self) {
            for reference in self.1 {
                let _ = self.0.docker_lines(&["rmi", reference]);
            }
        }
    }
    let _untag = Untag(&copy, &pulled);

    let first = publish(true);
    let out = first.output();
    assert_eq!(first.code(), Some(0), "{}:\n{out}", first.how());
    assert!(
        !out.contains(REGISTRY_PASSWORD),
        "the password is in the output:\n{out}"
    );
    assert!(out.contains("--password-stdin"), "{out}");
    let digest = pushed_digest(&first);
    assert!(digest.starts_with(&format!("{name}@sha256:")), "{digest}\n{out}");
    for tag in ["v1.0.0", "latest"] {
        assert!(
            out.contains(&format!("{tag}: digest: {}", &digest[name.len() + 1..])),
            "{tag}:\n{out}"
        );
    }

    // Pulled back from the registry, the version's tag is the same image.
    let pull = copy.docker_lines(&["pull", &pulled[0]]).unwrap();
    assert!(
        pull.iter()
            .any(|line| line == &format!("Digest: {}", &digest[name.len() + 1..])),
        "{pull:?} against {digest}"
    );

    // Again, with the login the first run left: nothing new is pushed, the digest is the same.
    let again = publish(false);
    let out = again.output();
    assert_eq!(again.code(), Some(0), "{}:\n{out}", again.how());
    assert_eq!(pushed_digest(&again), digest, "{out}");
    assert!(!out.contains(": Pushed"), "{out}");

    // A change not committed is refused, and nothing is pushed.
    copy.write("src/todo/uncommitted.py", "\n");
    let dirty = publish(false);
    let out = dirty.output();
    assert_eq!(dirty.code(), Some(1), "{out}");
    assert!(out.contains("uncommitted changes") && out.contains("--force"), "{out}");
    assert!(!out.contains("$ docker push"), "{out}");
}
