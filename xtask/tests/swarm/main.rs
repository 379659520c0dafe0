//! `cargo xtask deploy` end to end on a real multi-node Docker Swarm built on this machine
//! (`scripts/swarm-lab.sh`: three dockerds in network namespaces of their own on one bridge,
//! one manager and two workers, and a registry they all reach as 127.0.0.1:PORT). The release
//! is built and tested by `release` and pushed by `publish` from a copy of the checkout, as a
//! user does; then each scenario deploys, updates, fails or loses a node, with requests going
//! through the edges all along, counted at the client. The scenarios share the lab and the
//! deployment (building them is most of the time) and take it in turns; the last to finish
//! removes the deployment, the lab and the copy. A test process that dies leaves nothing
//! either: the lab's watcher (`SWARM_LAB_OWNER`) removes the lab once the process is gone.
//! They need root (namespaces, bridges, dockerds): without it they say SKIPPED, and under
//! CI=true they fail.

#[path = "../support/mod.rs"]
mod support;

mod lab;
mod load;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use lab::{Lab, lab};
use load::{Load, request};
use support::{Running, SIGINT, signal_group};

/// The scenarios of this file: the last of them to finish tears the lab down.
const SCENARIOS: usize = 6;
/// The port the edge publishes on every node.
const PORT: u16 = 8080;
/// Bounds only, so a broken run fails instead of hanging.
const A_RELEASE_ENDS_WITHIN: Duration = Duration::from_secs(900);
const A_DEPLOY_ENDS_WITHIN: Duration = Duration::from_secs(420);

/// The secrets' values, read where they are meant to be: the files in the stack's containers.
fn secret_values(lab: &Lab) -> BTreeSet<String> {
    let filter = format!("label=com.docker.stack.namespace={}", lab.stack());
    let mut values = BTreeSet::new();
    for socket in lab.sockets() {
        for id in lab
            .docker(Some(&socket), &["ps", "--quiet", "--filter", &filter])
            .split_whitespace()
        {
            let files = lab.docker(
                Some(&socket),
                &[
                    "exec",
                    id,
                    "sh",
                    "-c",
                    "for f in /run/secrets/*; do cat \"$f\"; echo; done 2>/dev/null",
                ],
            );
            values.extend(files.split_whitespace().map(String::from));
        }
    }
    values
}

#[test]
fn a_deploy_serves_the_release_through_every_node_s_edge_and_keeps_its_secrets_in_files_alone() {
    let Some(lab) = lab() else { return };
    for node in lab.nodes() {
        let (status, _, body) = request(&node, "GET", "/todos", None).unwrap_or_else(|| panic!("no answer on {node}"));
        assert_eq!(status, 200, "{node}: {body}");
    }
    let tasks = lab.app_tasks();
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    let nodes: BTreeSet<&String> = tasks.iter().map(|(_, node)| node).collect();
    assert!(
        nodes.len() >= 2,
        "the replicas are not spread over the nodes: {tasks:?}"
    );
    let status = lab.xtask(&["deploy", "--status"]);
    assert!(
        status
            .output()
            .lines()
            .any(|line| line.contains("_app") && line.contains(" 3/3 ")),
        "{}",
        status.output()
    );

    let secrets = secret_values(&lab);
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    let stack = lab.stack().to_string();
    let services = lab.manager(&[
        "service",
        "ls",
        "--quiet",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
    ]);
    let mut inspect = vec!["service", "inspect"];
    inspect.extend(services.split_whitespace());
    let mut seen = lab.manager(&inspect);
    for service in services.split_whitespace() {
        let tasks = lab.manager(&["service", "ps", "--quiet", "--no-trunc", service]);
        for task in tasks.split_whitespace() {
            seen.push_str(&lab.manager(&["inspect", "--type", "task", task]));
        }
    }
    for socket in lab.sockets() {
        for id in lab
            .docker(Some(&socket), &["ps", "--all", "--quiet"])
            .split_whitespace()
        {
            seen.push_str(&lab.docker(Some(&socket), &["inspect", id]));
        }
    }
    seen.push_str(&std::fs::read_to_string(lab.copy.root().join(format!("target/deploy/{stack}.yml"))).unwrap());
    seen.push_str(lab.deployed.as_deref().unwrap());
    seen.push_str(&status.output());
    for secret in &secrets {
        assert!(!seen.contains(secret.as_str()), "a secret is readable outside its file");
    }
}

#[test]
fn a_rolling_update_under_load_fails_no_request_and_keeps_the_data() {
    let Some(mut lab) = lab() else { return };
    let node = lab.nodes()[0].clone();
    let (status, _, body) = request(&node, "POST", "/todos", Some(r#"{"title": "kept through the update"}"#)).unwrap();
    assert_eq!(status, 201, "{body}");
    lab.publish_variant("v2", "ENV APP_VERSION=v2\nLABEL todobackend.version=v2");
    // v2's migrations are the release's; the database has them unless another scenario's
    // v3 (new migrations) runs
    let label = "{{index .Config.Labels \"todobackend.migrations\"}}";
    let v2 = lab.docker(
        None,
        &["image", "inspect", "--format", label, &format!("{}:v2", lab.repository)],
    );
    let app = format!("{}_app", lab.stack());
    let app_label = label.replace("Config", "Spec");
    let migrated = lab.manager(&["service", "inspect", "--format", &app_label, &app]);
    assert!(!v2.trim().is_empty(), "the release image has no migrations fingerprint");

    let load = Load::start(&lab.nodes());
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let update = lab.xtask(&["deploy", "--version", "v2"]);
    let took = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let counted = load.stop();
    assert_eq!(update.code(), Some(0), "{}", update.output());
    let migration_job = update.output().contains(&format!("--name {}_migrate ", lab.stack()));
    if v2 == migrated {
        assert!(
            update.output().contains("none to run") && !migration_job,
            "{}",
            update.output()
        );
    } else {
        assert!(migration_job, "{}", update.output());
    }
    assert_eq!(
        lab.manager(&["service", "inspect", "--format", &app_label, &app]),
        v2,
        "the app does not record the migrations it runs with"
    );
    eprintln!(
        "the update took {:.1} s; {} requests answered during it",
        took.as_secs_f64(),
        counted.answered
    );
    assert!(counted.failed.is_empty(), "failed requests: {:?}", counted.failed);
    assert!(counted.answered > 50, "{counted:?}");
    assert!(counted.versions.contains("v2"), "{counted:?}");
    let tasks = lab.app_tasks();
    assert!(
        tasks.len() == 3 && tasks.iter().all(|(image, _)| image.contains(":v2@")),
        "{tasks:?}"
    );
    let (_, _, todos) = request(&node, "GET", "/todos", None).unwrap();
    assert!(todos.contains("kept through the update"), "{todos}");
    counted.assert_every_write_kept(&todos);
}

/// A version with migrations of its own that take 25 s (its `django-admin` waits first): long
/// enough for a Ctrl-C to land in them, and for the next deploy to find them still going.
const SLOW_MIGRATIONS: &str = r##"ENV APP_VERSION=v3
LABEL todobackend.version=v3 todobackend.migrations=new-in-v3
USER root
RUN mv /appenv/bin/django-admin /appenv/bin/django-admin.real && \
    printf '#!/bin/sh\nsleep 25\nexec /appenv/bin/django-admin.real "$@"\n' > /appenv/bin/django-admin && \
    chmod 755 /appenv/bin/django-admin
USER 10001:10001"##;

/// `deploy --version v3`, Ctrl-C'd as a terminal does `after` the line with `text`: all it
/// printed, once it ended as interrupted.
fn interrupted(lab: &Lab, text: &str, after: Duration) -> String {
    let mut deploy = Running::start(lab.xtask_command(&["deploy", "--version", "v3"]));
    deploy.wait_for_line(text, A_DEPLOY_ENDS_WITHIN);
    std::thread::sleep(after);
    signal_group(deploy.pid(), SIGINT);
    let ended = deploy.finish(Duration::from_secs(30));
    assert_eq!(ended.code(), Some(130), "{}:\n{}", ended.how(), ended.output());
    ended.output()
}

#[test]
fn ctrl_c_during_a_deploy_leaves_the_migrations_and_the_update_to_the_swarm_with_no_failed_request() {
    let Some(mut lab) = lab() else { return };
    lab.publish_variant("v3", SLOW_MIGRATIONS);
    let before = lab.app_images();
    let load = Load::start(&lab.nodes());

    // In the migrations: never cut short, and the app not updated.
    let out = interrupted(&lab, "Migrating the database", Duration::from_secs(3));
    assert!(out.contains("the migrations go on by themselves"), "{out}");
    assert_eq!(
        lab.app_images(),
        before,
        "the app was updated after a Ctrl-C in the migrations"
    );
    // The next deploy waits for them; then a Ctrl-C in the update leaves it to the swarm.
    let out = interrupted(&lab, "Deploying v3", Duration::from_secs(4));
    assert!(out.contains("the migrations an earlier deploy started go on"), "{out}");
    assert!(
        out.contains("the swarm goes on updating") && out.contains("cargo xtask deploy --status"),
        "{out}"
    );

    // What it said: the swarm takes the update to its end by itself, and no request fails.
    let asked = Instant::now();
    loop {
        let tasks = lab.app_tasks();
        if tasks.len() == 3 && tasks.iter().all(|(image, _)| image.contains(":v3@")) {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(120),
            "the swarm did not finish the update: {tasks:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let counted = load.stop();
    assert!(counted.failed.is_empty(), "failed requests: {:?}", counted.failed);
    let status = lab.xtask(&["deploy", "--status"]);
    assert!(
        status
            .output()
            .lines()
            .any(|line| line.contains("_app") && line.contains(" 3/3 ") && line.contains("v3")),
        "{}",
        status.output()
    );
    let (_, _, todos) = request(&lab.nodes()[0], "GET", "/todos", None).unwrap();
    counted.assert_every_write_kept(&todos);
}

#[test]
fn deploy_refuses_an_engine_not_in_swarm_mode_a_worker_and_an_image_never_published_and_changes_nothing() {
    let Some(lab) = lab() else { return };
    let before = lab.app_images();
    let refused = |host: Option<&str>, args: &[&str], says: &[&str]| {
        let finished = lab.xtask_at(host, args);
        let out = finished.output();
        assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
        for words in says {
            assert!(out.contains(words), "no {words:?} in:\n{out}");
        }
    };
    // The host's own engine, which this test never puts in swarm mode (a developer's may be)
    let host_state = lab.docker(None, &["info", "--format", "{{.Swarm.LocalNodeState}}"]);
    if host_state.trim() == "inactive" {
        refused(None, &["deploy"], &["is not in swarm mode", "docker swarm init"]);
    }
    let worker = lab
        .alive("SWARM_LAB_SOCKETS")
        .into_iter()
        .nth(1)
        .expect("a worker is alive")
        .1;
    refused(Some(&worker), &["deploy"], &["is a swarm worker", "DOCKER_HOST"]);
    refused(
        Some(&lab.var("DOCKER_HOST")),
        &["deploy", "--version", "never-published"],
        &[
            "cannot pull",
            "never-published",
            "Nothing was changed",
            "cargo xtask publish",
        ],
    );
    assert_eq!(lab.app_images(), before, "the app changed");
    let leftover = lab.manager(&["service", "ls", "--format", "{{.Name}}"]);
    assert!(!leftover.contains("_pull-"), "the pull checks were left: {leftover}");
}

#[test]
fn a_release_whose_health_fails_is_rolled_back_by_itself_with_no_failed_request() {
    let Some(mut lab) = lab() else { return };
    let node = lab.nodes()[0].clone();
    let before = lab.app_images();
    // It runs, but on a port nobody asks: its /health never answers.
    lab.publish_variant(
        "broken",
        "CMD [\"gunicorn\", \"--config\", \"/etc/todobackend/gunicorn.conf.py\", \"--bind\", \"0.0.0.0:8001\", \"todobackend.wsgi\"]",
    );
    let load = Load::start(&lab.nodes());
    let started = Instant::now();
    let failed = lab.xtask(&["deploy", "--version", "broken"]);
    let took = started.elapsed();
    let counted = load.stop();
    let out = failed.output();
    assert_eq!(failed.code(), Some(1), "{out}");
    assert!(
        out.contains("rolled") && out.contains("back") && out.contains("did not become healthy"),
        "{out}"
    );
    assert!(took < Duration::from_secs(90), "deploy took {took:?} to say so");
    assert!(counted.failed.is_empty(), "failed requests: {:?}", counted.failed);
    let after = lab.app_images();
    assert_eq!(after, before, "the old version does not serve on");
    let (status, _, todos) = request(&node, "GET", "/todos", None).unwrap();
    assert_eq!(status, 200, "{todos}");
    counted.assert_every_write_kept(&todos);
}

#[test]
fn a_lost_worker_s_app_tasks_run_again_on_the_others_and_a_surviving_edge_answers() {
    let Some(mut lab) = lab() else { return };
    let nodes = lab.alive("SWARM_LAB_NODES");
    // A worker that runs app tasks (the updates before may have moved them all off one)
    let tasks = lab.app_tasks();
    let (n, lost) = nodes
        .iter()
        .skip(1)
        .find(|(_, address)| tasks.iter().any(|(_, node)| node == address))
        .cloned()
        .unwrap_or_else(|| panic!("no worker runs an app task: {tasks:?}"));
    let survivor = vec![nodes[0].1.clone()];
    let load = Load::start(&survivor);
    std::thread::sleep(Duration::from_secs(2));
    let cut = Instant::now();
    let killed = Command::new(support::repository().join("scripts/swarm-lab.sh"))
        .args(["kill-node".as_ref(), lab.dir.as_os_str(), n.to_string().as_ref()])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{}", String::from_utf8_lossy(&killed.stderr));
    lab.lost.insert(n);
    let mut again = None;
    while cut.elapsed() < Duration::from_secs(90) {
        let tasks = lab.app_tasks();
        if tasks.len() == 3 && tasks.iter().all(|(_, node)| *node != lost) {
            again = Some(cut.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let counted = load.stop();
    let again = again.unwrap_or_else(|| panic!("the lost node's tasks never ran elsewhere: {:?}", lab.app_tasks()));
    eprintln!(
        "app tasks on the other nodes {:.1} s after the cut; {} answered, {} failed: {:?}",
        again.as_secs_f64(),
        counted.answered,
        counted.failed.len(),
        counted.failed
    );
    let late: Vec<_> = counted
        .failed
        .iter()
        .filter(|(at, _)| *at > Duration::from_secs(2) + Duration::from_secs(5))
        .collect();
    assert!(late.is_empty(), "requests failed after the first 5 s: {late:?}");

    // A node down: deploy refuses before it changes anything, and says what to do.
    let refused = lab.xtask(&["deploy"]);
    assert_eq!(refused.code(), Some(1), "{}", refused.output());
    assert!(
        refused.output().contains(&format!("node {lost}")) && refused.output().contains("docker node rm"),
        "{}",
        refused.output()
    );
    // Gone for good: the swarm forgets it, as its user would tell it to.
    let down = lab.manager(&[
        "node",
        "ls",
        "--filter",
        "role=worker",
        "--format",
        "{{.ID}} {{.Status}}",
    ]);
    for line in down.lines().filter(|line| line.ends_with(" Down")) {
        lab.manager(&["node", "rm", "--force", line.split_whitespace().next().unwrap()]);
    }
}
