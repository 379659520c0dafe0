//! `cargo xtask test --settings test`: the settings' database, started beside the suite (on a
//! private network when baked, in the worker's network namespace when mounted), proved ready
//! before the suite goes on, its passwords never on a command line, removed after.

use crate::expected::{copy_out, dev_build, normalized, run, worker};
use crate::fake_docker::{FakeDocker, RUN_PART, stderr};

#[test]
fn a_baked_run_s_settings_get_a_database_on_a_private_network_and_everything_is_removed_after() {
    // A database image without the fingerprint of what it is made of now (docker/db/ and the
    // OS image) is rebuilt, with it; one with it is used as it is.
    let stale = FakeDocker::new("test-db-stale").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    stale.xtask_ok(stale.root(), &["test", "--baked", "--settings", "test"]);
    let changes = stale.changes();
    let build = changes
        .iter()
        .find(|args| args.starts_with("build -t todobackend-db -f docker/db/Dockerfile "))
        .unwrap_or_else(|| panic!("the stale database image was not rebuilt: {changes:?}"));
    let inputs = build
        .split_whitespace()
        .find_map(|word| word.strip_prefix("todobackend.inputs="))
        .unwrap();

    let fake = FakeDocker::new("test-db")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", inputs)
        .env("FAKE_ADDRESS", "10.89.0.2")
        .env("FAKE_RUN_EXIT", "3");
    let root = fake.root();
    let output = fake.xtask(
        root,
        &["test", "--baked", "--settings", "test", "--", "todo.tests", "-v", "2"],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // From the dev image's build on
    let changes = &changes[dev_build(root, "debian:bookworm-slim").len() - 1..];
    let labels = format!(
        "--label application=todobackend --label todobackend.checkout={} --label todobackend.run={run}",
        root.display()
    );
    assert_eq!(changes[1], format!("network create {labels} {run}"));
    assert_eq!(
        changes[2],
        format!(
            "run --detach --name {run}-db {labels} --network {run} --network-alias db --tmpfs /var/lib/mysql \
             -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD -e MYSQL_ROOT_PASSWORD todobackend-db"
        )
    );
    assert!(
        changes[3].starts_with("create ")
            && changes[3].contains(&format!(" --network {run} "))
            // The database by the address it got there, never through the network's DNS.
            && changes[3].contains(" --add-host db:10.89.0.2 ")
            && changes[3].contains(" -e MYSQL_HOST=db -e MYSQL_PORT=3306 -e MYSQL_PASSWORD ")
            // The administrator's password is the database's alone.
            && !changes[3].contains("MYSQL_ROOT_PASSWORD")
            && changes[3].ends_with(" suite.py run todo.tests -v 2"),
        "{}",
        changes[3]
    );
    // Removed newest first, though the suite failed.
    assert_eq!(
        changes[4..],
        [
            format!("start --attach {run}-test"),
            copy_out(root, "test", "/reports", "reports"),
            // The run's containers in one call
            format!("rm --force --volumes {run}-test {run}-db"),
            format!("network rm {run}"),
        ]
    );
    // The database was proved ready with a real query before the suite started.
    let calls = fake.calls().join("\n");
    assert!(
        calls.contains("exec todobackend-") && calls.contains("SELECT 1"),
        "{calls}"
    );
    // Passwords travel in the environment: never on a command line, masked where echoed.
    assert!(!calls.contains("PASSWORD="), "{calls}");
    let err = stderr(&output);
    assert!(
        err.contains("MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach"),
        "{err}"
    );
    assert!(err.contains("MYSQL_PASSWORD=*** docker create"), "{err}");
    assert!(err.contains("exit code 3"), "{err}");
}

/// A mounted run of `test --settings test -- todo.tests` with the fake, whose suite exits 3: the
/// calls that change something but the worker's replacement, normalized, and the run's labels.
fn a_mounted_run_with_the_database(fake: &FakeDocker) -> (Vec<String>, String) {
    let root = fake.root();
    let output = fake.xtask(root, &["test", "--settings", "test", "--", "todo.tests"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let run = run();
    let calls: Vec<String> = fake
        .calls()
        .iter()
        .map(|call| normalized(call.split_once(": ").unwrap().1))
        // Less the dev image's build (its wheels' container included) and the questions
        .filter(|args| {
            !args.contains(" inspect ")
                && !args.starts_with("build ")
                && !args.contains("-wheels")
                && !args.contains("version")
        })
        .collect();
    // The worker was started from other inputs than the fake's: retired (renamed, and told to
    // end with the runs it serves), and a new one started on the network it has already.
    let retired = format!("{}-retired-", worker());
    assert!(
        calls[0].starts_with(&format!("rename {} {retired}", worker())),
        "{calls:#?}"
    );
    assert!(
        calls[1].starts_with(&format!("exec {retired}")) && calls[1].ends_with("/suite.py retire"),
        "{calls:#?}"
    );
    assert!(
        calls[2].starts_with(&format!("run --detach --rm --name {} ", worker())),
        "{calls:#?}"
    );
    // It went on once the database proved ready, and not before.
    assert_eq!(fake.suite(), ["went on once its services were ready"]);
    let err = stderr(&output);
    assert!(err.contains("MYSQL_PASSWORD=*** docker exec -e REPORTS_DIR"), "{err}");
    assert!(!fake.calls().join("\n").contains("PASSWORD="), "{:?}", fake.calls());
    let labels = format!(
        "--label application=todobackend --label todobackend.checkout={} --label todobackend.run={run}",
        root.display()
    );
    (calls[3..].to_vec(), labels)
}

#[test]
fn a_mounted_run_s_database_shares_the_worker_s_network_namespace_on_a_port_of_the_run_s_own_and_goes_after() {
    let fake = FakeDocker::new("test-db-worker")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_RUN_EXIT", "3");
    let (calls, labels) = a_mounted_run_with_the_database(&fake);
    let run = run();
    // The suite starts first (the two may reach the engine in either order) and waits; the
    // database meanwhile, in the worker's network namespace, which concurrent runs share, on
    // a port of its run's (told by MYSQL_TCP_PORT), its data on a tmpfs.
    let mut started = calls[..2].to_vec();
    started.sort();
    let port = started[0]
        .split_once(" -e MYSQL_PORT=")
        .and_then(|(_, rest)| rest.split_once(' '))
        .map(|(port, _)| port.to_string())
        .unwrap_or_else(|| panic!("no MYSQL_PORT: {calls:#?}"));
    assert!(
        port.parse::<u16>().is_ok_and(|port| (20000..30000).contains(&port)),
        "{port}"
    );
    let suite = format!(
        "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.test \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_HOST=127.0.0.1 -e MYSQL_PORT={port} \
         -e SUITE_WAIT_FOR=127.0.0.1:{port} -e SUITE_SERVICES_READY=/runs/{run}/services-ready -e MYSQL_PASSWORD {worker} \
         python3 -I -S /usr/local/bin/suite.py fork {run} todo.tests",
        worker = worker()
    );
    let database = format!(
        "run --detach --name {run}-db {labels} --network container:{worker} --tmpfs /var/lib/mysql \
         -e MYSQL_TCP_PORT={port} -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD \
         -e MYSQL_ROOT_PASSWORD todobackend-db",
        worker = worker()
    );
    assert_eq!(started, [suite, database], "{calls:#?}");
    assert!(calls[2].starts_with(&format!("exec {run}-db sh -c ")), "{calls:#?}");
    assert_eq!(calls[3..], [format!("rm --force --volumes {run}-db")]);
}

#[test]
fn a_mounted_run_s_database_that_listens_on_its_port_only_joins_the_worker_s_network_under_a_name_of_the_run_s() {
    let fake = FakeDocker::new("test-db-worker-network")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_RUN_EXIT", "3");
    fake.checkout.edit("Cargo.toml", |manifest| {
        manifest.replace("listen_env = \"MYSQL_TCP_PORT\"\n", "")
    });
    let (calls, labels) = a_mounted_run_with_the_database(&fake);
    let run = run();
    let network = format!("todobackend-{RUN_PART}-CHECKOUT-net");
    let suite = format!(
        "exec -e REPORTS_DIR=/runs/{run}/reports -e DJANGO_SETTINGS_MODULE=todobackend.settings.test \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_HOST=db-RUN -e MYSQL_PORT=3306 \
         -e SUITE_WAIT_FOR=db-RUN:3306 -e SUITE_SERVICES_READY=/runs/{run}/services-ready -e MYSQL_PASSWORD {worker} \
         python3 -I -S /usr/local/bin/suite.py fork {run} todo.tests",
        worker = worker()
    );
    let database = format!(
        "run --detach --name {run}-db {labels} --network {network} --network-alias db-RUN --tmpfs /var/lib/mysql \
         -e MYSQL_DATABASE=todobackend -e MYSQL_USER=todo -e MYSQL_PASSWORD -e MYSQL_ROOT_PASSWORD todobackend-db"
    );
    let mut started = calls[..2].to_vec();
    started.sort();
    assert_eq!(started, [suite, database], "{calls:#?}");
    assert!(calls[2].starts_with(&format!("exec {run}-db sh -c ")), "{calls:#?}");
    assert_eq!(calls[3..], [format!("rm --force --volumes {run}-db")]);
}

#[test]
fn a_suite_started_while_its_database_starts_is_stopped_when_the_database_never_gets_ready() {
    let fake = FakeDocker::new("test-db-never-ready")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_DB_LABEL", "whatever")
        .env("FAKE_WORKER", "running")
        .env("FAKE_PROBE_EXIT", "1");
    fake.checkout.edit("Cargo.toml", |manifest| {
        manifest.replace("ready_timeout_secs = 60", "ready_timeout_secs = 1")
    });
    let output = fake.xtask(fake.root(), &["test", "--settings", "test"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("was not ready after 1 s"), "{err}");
    let run = run();
    let calls: Vec<String> = fake
        .calls()
        .iter()
        .map(|call| normalized(call.split_once(": ").unwrap().1))
        .collect();
    // The suite never went on; its child in the worker is stopped, the database removed.
    assert!(fake.suite().is_empty(), "{:?}", fake.suite());
    let stop = format!("exec {} python3 -I -S /usr/local/bin/suite.py stop {run}", worker());
    let removed = format!("rm --force --volumes {run}-db");
    assert!(calls.contains(&stop) && calls.contains(&removed), "{calls:#?}");
}
