//! A day in Docker as a new user lives it (issue 26), end to end on the real engine: `clean`
//! keeps what was entered unless told, `manage` works on the data `serve` keeps, and a
//! checkout's warm worker ends with the checkout. Each scenario on its own copy of the
//! checkout (`support::Checkout`), on a port of its own.

mod support;

use std::time::Duration;

use support::{Checkout, ctrl_c, free_port, http, run_to_end, serve};

const A_TASK_ENDS_WITHIN: Duration = Duration::from_secs(240);

/// Runs the xtask in `copy` with `args`; asserts it exits 0. All it printed.
fn xtask_ok(copy: &Checkout, args: &[&str]) -> String {
    let finished = run_to_end(copy.xtask(args), A_TASK_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(
        finished.code(),
        Some(0),
        "`xtask {}`: {}:\n{out}",
        args.join(" "),
        finished.how()
    );
    out
}

/// The copy's volumes of kept data, by name.
fn kept_volumes(copy: &Checkout) -> Vec<String> {
    let label = format!("label={}", copy.label());
    let filters = ["--filter", &label, "--filter", "label=todobackend.data"];
    copy.docker_lines(&[&["volume", "ls"][..], &filters, &["--format", "{{.Name}}"]].concat())
        .unwrap()
}

/// POSTs a todo with `title` to the server on `port`.
fn post(port: u16, title: &str) {
    let (status, _, created) = http(port, "POST", "/todos", Some(&format!(r#"{{"title":"{title}"}}"#)));
    assert_eq!(status, 201, "{created}");
}

/// Whether the server on `port` lists a todo with `title`.
fn lists(port: u16, title: &str) -> bool {
    let (status, _, listed) = http(port, "GET", "/todos", None);
    assert_eq!(status, 200, "{listed}");
    listed.contains(title)
}

// ---------------------------------------------------------------------------------------
// clean keeps what the user entered

#[test]
fn plain_clean_keeps_what_serve_kept_says_so_and_clean_data_removes_it() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("day clean keeps");
    let port = free_port();
    let serving = serve(&copy, port, &[]);
    post(port, "entered before clean");
    ctrl_c(serving);

    let out = xtask_ok(&copy, &["clean"]);
    let kept = kept_volumes(&copy);
    assert!(kept.len() == 1 && kept[0].ends_with("-base-data"), "{kept:?}\n{out}");
    assert!(
        out.contains(&format!("Kept the data `serve` kept ({})", kept[0])) && out.contains("clean --data"),
        "{out}"
    );
    let serving = serve(&copy, port, &[]);
    assert!(lists(port, "entered before clean"), "the data did not outlive clean");
    ctrl_c(serving);

    let out = xtask_ok(&copy, &["clean", "--data"]);
    assert!(kept_volumes(&copy).is_empty(), "{:?}\n{out}", kept_volumes(&copy));
    assert!(out.contains("Removing the data kept by `serve`"), "{out}");
}

// ---------------------------------------------------------------------------------------
// manage works on the data serve keeps

/// A `manage.py shell -c` script that prints the titles of the todos, one `todo: TITLE` a line.
const LIST_TODOS: &str = "from todo.models import TodoItem\nfor title in TodoItem.objects.values_list('title', flat=True): print('todo:', title)";

/// A script that prints whether USER logs in with PASSWORD.
fn logs_in(user: &str, password: &str) -> String {
    format!(
        "from django.contrib.auth import authenticate\nprint('logs in:', authenticate(username='{user}', password='{password}') is not None)"
    )
}

/// `manage [SETTINGS...] -- ARGS` in `copy`, with `env`; asserts it exits 0. All it printed.
fn manage(copy: &Checkout, settings: &[&str], env: &[(&str, &str)], args: &[&str]) -> String {
    let mut command = copy.xtask(&[&["manage"][..], settings, &["--"], args].concat());
    command.envs(env.iter().copied());
    let finished = run_to_end(command, A_TASK_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(
        finished.code(),
        Some(0),
        "`manage {}`: {}:\n{out}",
        args.join(" "),
        finished.how()
    );
    out
}

/// `createsuperuser --noinput` of `user`, its answers from the host's environment.
fn create_superuser(copy: &Checkout, settings: &[&str], user: &str, password: &str) -> String {
    let env = [
        ("DJANGO_SUPERUSER_USERNAME", user),
        ("DJANGO_SUPERUSER_PASSWORD", password),
        ("DJANGO_SUPERUSER_EMAIL", "dev@example.com"),
    ];
    manage(copy, settings, &env, &["createsuperuser", "--noinput"])
}

/// What `script` prints run by `manage.py shell` inside the running serve's own container,
/// with its settings and its database: what the server itself sees.
fn in_serve(copy: &Checkout, script: &str) -> String {
    let serving = support::running_containers(copy);
    let server = serving
        .iter()
        .find(|name| name.ends_with("-serve"))
        .unwrap_or_else(|| panic!("no serve: {serving:?}"));
    let shell = [
        "exec",
        server.as_str(),
        "/appenv/bin/python",
        "manage.py",
        "shell",
        "-c",
        script,
    ];
    copy.docker_lines(&shell).unwrap().join("\n")
}

/// The running containers that mount the volume `volume`.
fn using(copy: &Checkout, volume: &str) -> Vec<String> {
    let filter = format!("volume={volume}");
    copy.docker_lines(&["container", "ls", "--filter", &filter, "--format", "{{.Names}}"])
        .unwrap()
}

/// Both ways, serve running and not, on `settings`' kept data (`volume_ends`): an item POSTed
/// through serve is listed by `manage -- shell`, and a user made by `manage -- createsuperuser`
/// logs in to the serve running and to the next one.
fn manage_and_serve_share_the_data(name: &str, settings: &[&str], volume_ends: &str) {
    let copy = Checkout::copy(name);
    let port = free_port();
    let serving = serve(&copy, port, settings);
    post(port, "posted through serve");

    // Serve running: manage joins its data (and its database, never a second one).
    let listed = manage(&copy, settings, &[], &["shell", "-c", LIST_TODOS]);
    assert!(listed.contains("todo: posted through serve"), "{listed}");
    let kept = kept_volumes(&copy);
    assert!(kept.len() == 1 && kept[0].ends_with(volume_ends), "{kept:?}");
    if !settings.is_empty() {
        assert!(
            listed.contains("=> Joining db") && !listed.contains("=> Starting db"),
            "{listed}"
        );
    }
    let made = create_superuser(&copy, settings, "while-serving", "pw-one-1234");
    assert!(made.contains("Superuser created successfully"), "{made}");
    assert!(in_serve(&copy, &logs_in("while-serving", "pw-one-1234")).contains("logs in: True"));
    assert!(lists(port, "posted through serve"));
    ctrl_c(serving);

    // Serve stopped: manage starts on the kept data alone, and leaves it for the next serve.
    let listed = manage(&copy, settings, &[], &["shell", "-c", LIST_TODOS]);
    assert!(listed.contains("todo: posted through serve"), "{listed}");
    let made = create_superuser(&copy, settings, "between-serves", "pw-two-1234");
    assert!(made.contains("Superuser created successfully"), "{made}");
    assert!(using(&copy, &kept[0]).is_empty(), "{:?}", using(&copy, &kept[0]));
    let serving = serve(&copy, port, settings);
    assert!(in_serve(&copy, &logs_in("between-serves", "pw-two-1234")).contains("logs in: True"));
    assert!(in_serve(&copy, &logs_in("while-serving", "pw-one-1234")).contains("logs in: True"));
    ctrl_c(serving);

    // --fresh: throw-away data, as before
    let fresh = [&["--fresh"][..], settings].concat();
    let tables = "from django.db import connection\nprint('migrated:', 'todo_todoitem' in connection.introspection.table_names())";
    let out = manage(&copy, &fresh, &[], &["shell", "-c", tables]);
    assert!(out.contains("migrated: False"), "{out}");
    assert_eq!(kept_volumes(&copy), kept, "--fresh changed the kept volumes");
}

#[test]
fn manage_works_on_the_sqlite_file_serve_keeps_whether_serve_runs_or_not() {
    let Some(_engine) = support::engine() else { return };
    manage_and_serve_share_the_data("day manage base", &[], "-base-data");
}

#[test]
fn manage_joins_the_database_of_a_running_serve_and_uses_its_kept_data_when_none_runs() {
    let Some(_engine) = support::engine() else { return };
    manage_and_serve_share_the_data("day manage db", &["--settings", "test"], "-test-db");
}

// ---------------------------------------------------------------------------------------
// A checkout's worker ends with the checkout

/// A developer's copy: a local run uses the warm worker (under CI it would not).
fn developer_s(name: &str) -> Checkout {
    Checkout::copy(name).env("CI", "false")
}

/// Polls until `done` holds, for at most `within`; whether it did.
fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    done()
}

/// The names of what of `kind` (container, network, volume) is on the engine, all of it.
fn all(kind: &str) -> Vec<String> {
    let format = if kind == "container" { "{{.Names}}" } else { "{{.Name}}" };
    let mut args = vec![kind, "ls", "--format", format];
    if kind == "container" {
        args.push("--all");
    }
    support::docker_lines(&args).unwrap()
}

/// Copies the repository's `src/` into `copy` again, after a test removed it.
fn put_back_src(copy: &Checkout) {
    let status = std::process::Command::new("cp")
        .arg("-R")
        .arg(support::repository().join("src"))
        .arg(copy.root().join("src"))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_removed_checkout_s_worker_ends_and_any_checkout_s_doctor_and_clean_remove_what_it_left() {
    let Some(_engine) = support::engine() else { return };
    let gone = developer_s("day gone");
    let other = developer_s("day other");
    let alive = developer_s("day alive");
    xtask_ok(&gone, &["test"]);
    xtask_ok(&gone, &["manage", "--", "migrate", "--noinput"]);
    xtask_ok(&alive, &["test"]);
    xtask_ok(&alive, &["manage", "--", "migrate", "--noinput"]);
    let (worker, network) = match &support::the_worker(&gone)[..] {
        [worker, network] => (worker.clone(), network.clone()),
        other => panic!("{other:?}"),
    };
    let gone_data = kept_volumes(&gone);
    assert!(gone_data.len() == 1, "{gone_data:?}");
    let alive_owns = [support::the_worker(&alive), kept_volumes(&alive)].concat();
    assert_eq!(alive_owns.len(), 3, "{alive_owns:?}");

    // The checkout goes (moved away, its src/ removed); a directory that is no checkout takes its path.
    let root = gone.root().to_path_buf();
    let away = root.with_extension("away");
    std::fs::rename(&root, &away).unwrap();
    std::fs::remove_dir_all(away.join("src")).unwrap();
    std::fs::create_dir(&root).unwrap();
    assert!(
        eventually(Duration::from_secs(20), || !all("container").contains(&worker)),
        "the worker of a removed checkout is still there: {worker}"
    );
    assert!(
        all("network").contains(&network),
        "the worker's network went with it already"
    );

    // Another checkout's doctor lists and removes it; its clean keeps the data unless --data.
    let doctor = run_to_end(other.xtask(&["doctor"]), A_TASK_ENDS_WITHIN).output();
    assert!(
        doctor.contains("checkouts that are gone had left") && doctor.contains(&network),
        "{doctor}"
    );
    assert!(
        doctor.contains(&format!("checkouts that are gone: {}", gone_data[0])),
        "{doctor}"
    );
    assert!(!all("network").contains(&network), "{doctor}");
    let out = xtask_ok(&other, &["clean"]);
    assert!(
        out.contains(&format!(
            "Kept the data `serve` kept for checkouts that are gone ({})",
            gone_data[0]
        )),
        "{out}"
    );
    assert!(all("volume").contains(&gone_data[0]), "{out}");
    let out = xtask_ok(&other, &["clean", "--data"]);
    assert!(!all("volume").contains(&gone_data[0]), "{out}");

    // What a checkout that exists owns stays, however the others clean.
    let (containers, networks, volumes) = (all("container"), all("network"), all("volume"));
    for name in &alive_owns {
        assert!(
            containers.contains(name) || networks.contains(name) || volumes.contains(name),
            "{name} of a checkout that exists went:\n{out}"
        );
    }

    // The checkout back, for its own cleanup.
    std::fs::remove_dir(&root).unwrap();
    std::fs::rename(&away, &root).unwrap();
    put_back_src(&gone);
}

#[test]
fn the_worker_ends_after_the_idle_time_the_manifest_gives_and_the_next_run_starts_one() {
    let Some(_engine) = support::engine() else { return };
    let copy = developer_s("day idle");
    copy.edit("Cargo.toml", |manifest| format!("{manifest}worker_idle_secs = 3\n"));
    let out = xtask_ok(&copy, &["test"]);
    assert!(out.contains("Starting the test worker"), "{out}");
    let ran = std::time::Instant::now();
    let worker = support::the_worker(&copy)[0].clone();
    assert!(
        eventually(Duration::from_secs(30), || !all("container").contains(&worker)),
        "the worker is still there 30 s after the run, with worker_idle_secs = 3"
    );
    assert!(ran.elapsed() >= Duration::from_secs(3), "it ended before its idle time");
    let out = xtask_ok(&copy, &["test"]);
    assert!(
        out.contains("Starting the test worker") && out.lines().any(|line| line == "OK"),
        "{out}"
    );
}
