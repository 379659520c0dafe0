//! `cargo xtask deploy`: the published release onto the swarm the docker endpoint manages, as
//! a stack (`machinery::stack`), in an order that never leaves it half-changed:
//! 1. what must hold before anything changes: a manager, every node up, the release passed
//!    its acceptance tests, and every node able to pull every image that changes (a global job each);
//! 2. the secrets, made once from random values; the database's node, labelled once;
//! 3. the database (`STACK-services.yml`), then the migrations as a one-off job (`migrate`;
//!    none when the new version's are those last run): a failure stops here, its log shown,
//!    the running version serving on; never cut short (Ctrl-C leaves the job to end, and the
//!    next deploy waits for it);
//! 4. the whole stack (`STACK.yml`), the app rolled by the swarm, followed to its end: every
//!    replica on the new version, or rolled back by the swarm, named and non-zero.
//!
//! `--rollback` deploys what ran before (a label on the app says which); `--status` and
//! `--logs` ask the same services (`watch`).

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use camino::Utf8PathBuf;

use crate::config::Service as Configured;
use crate::console::say;
use crate::engine::docker::{self, Job};
use crate::flags::{self, DeployAction};
use crate::machinery::stack::{APP, APP_HEALTHY, EDGE, EDGE_READY, Health, Mode, RELEASE_SETTINGS, Service, Stack};
use crate::machinery::swarm;
use crate::project::{ACCEPTED, MIGRATIONS_LABEL, PUBLISHED, Project, random_hex};
use crate::runner::{READ, Runner};

mod migrate;
mod watch;
use migrate::migrate;
use watch::{follow, logs, status};

/// Where the app listens.
const APP_PORT: u16 = 8000;
/// Where each task's secrets are mounted: /run/secrets/VAR, told as VAR_FILE.
const SECRETS_DIR: &str = "/run/secrets";
/// What marks the stack's secrets as its own.
const STACK_LABEL: &str = "todobackend.stack";
/// How long each part may take before the deploy stops waiting (the swarm goes on).
const PULLED_WITHIN: Duration = Duration::from_secs(180);

impl flags::Deploy {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let runner = Runner::ready(project, dry_run, &[])?;
        let manager = swarm::check_manager(&runner)?;
        let stack = project.names.prefix.clone();
        match self.action {
            DeployAction::Status => status(&runner, &stack),
            DeployAction::Logs => logs(&runner, &stack, self.service.as_deref()),
            DeployAction::Deploy | DeployAction::Rollback => deploy(project, &runner, &manager, &stack, &self),
        }
    }
}

impl flags::Undeploy {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let stack = &project.names.prefix;
        if !self.yes {
            bail!(
                "`undeploy` removes the stack {stack} from the swarm, its services and network (its data and \
                 secrets stay): say so with `cargo xtask undeploy --yes`"
            );
        }
        let runner = Runner::ready(project, dry_run, &[])?;
        swarm::check_manager(&runner)?;
        if runner
            .probe(&docker::stack_services(stack))?
            .unwrap_or_default()
            .is_empty()
        {
            say!("   nothing of the stack {stack} is deployed here");
            return Ok(0);
        }
        runner.step(&format!("Removing the stack {stack}"));
        runner.run(&docker::stack_remove(stack))?;
        say!(
            "   kept: the volumes of {stack}'s stateful services on their nodes, its secrets ({STACK_LABEL}={stack}) \
             and the nodes' labels, for the next deploy"
        );
        Ok(0)
    }
}

/// What `deploy` deploys, from `publish`'s record: the release and the stack's other images.
struct Release {
    image: String,
    version: String,
    /// `(role, NAME-ROLE@DIGEST)`: the release settings' services' images, and the edge's.
    others: Vec<(String, String)>,
}

impl Release {
    fn other(&self, role: &str) -> Result<&str> {
        self.others
            .iter()
            .find(|(name, _)| name == role)
            .map(|(_, image)| image.as_str())
            .with_context(|| format!("`publish` pushed no image for the {role}: `cargo xtask publish` again"))
    }
}

/// The release to deploy: `publish`'s last push, by digest, when it is still the image that
/// passed its acceptance tests; or the published tag `version` of the same repository; or,
/// rolling back, what ran before (`previous`), which passed when it was deployed.
fn release(project: &Project, version: Option<&str>, previous: Option<(String, String)>) -> Result<Release> {
    let path = project.root.join(PUBLISHED);
    let record = fs::read_to_string(&path).unwrap_or_default();
    let mut release = None;
    let mut others = Vec::new();
    for line in record.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields[..] {
            ["release", image, id, version] => release = Some((image, id, version)),
            [role, image] => others.push((role.to_string(), image.to_string())),
            _ => {}
        }
    }
    let Some((image, id, published)) = release else {
        bail!(
            "nothing was published from this checkout ({path} is missing): `cargo xtask release`, then \
             `cargo xtask publish --registry HOST[:PORT]` with a registry every node of the swarm reaches"
        );
    };
    if let Some((image, version)) = previous {
        return Ok(Release { image, version, others });
    }
    if let Some(version) = version {
        let repository = image.split_once('@').map_or(image, |(repository, _)| repository);
        let image = format!("{repository}:{version}");
        return Ok(Release {
            image,
            version: version.into(),
            others,
        });
    }
    let accepted = fs::read_to_string(project.root.join(ACCEPTED)).unwrap_or_default();
    if accepted.trim() != id {
        bail!(
            "{image} ({published}) is not the image whose acceptance tests passed last: `cargo xtask release` \
             and `cargo xtask publish` again, or deploy a published tag with --version V"
        );
    }
    Ok(Release {
        image: image.into(),
        version: published.into(),
        others,
    })
}

fn deploy(project: &Project, runner: &Runner, manager: &str, name: &str, flags: &flags::Deploy) -> Result<u8> {
    let running = running(runner, name)?;
    let mut previous = None;
    if flags.action == DeployAction::Rollback && flags.version.is_none() {
        let Some(Running {
            previous: Some(before), ..
        }) = running.clone()
        else {
            bail!("{name} has no version before the one it runs to go back to: `cargo xtask deploy --version V`");
        };
        say!("   rolling back to {}, the version that ran before", before.1);
        previous = Some(before);
    }
    let release = release(project, flags.version.as_deref(), previous)?;
    let configured = project.config.services_for(RELEASE_SETTINGS);
    let db_label = |service: &str| format!("{name}.{service}");
    let nodes = swarm::nodes(runner, &db_label("db"))?;
    if let Some(down) = nodes.iter().find(|node| node.state != "ready") {
        bail!(
            "node {} ({}) is {}: nothing was changed. Bring it back, or `docker node rm --force {}` if it is \
             gone for good; the swarm has moved its tasks to the other nodes meanwhile",
            down.address,
            down.id,
            down.state,
            down.id
        );
    }

    let mut images = Vec::new();
    for (service, _) in &configured {
        images.push((service.to_string(), release.other(service)?.to_string()));
    }
    let edge_image = release.other(EDGE)?.to_string();

    // Only the images that change: one the stack runs already is on the nodes that run it,
    // and each check is a task on every node, taking their CPU from the requests served.
    let running_images = swarm::stack_images(runner, name)?;
    let changed: Vec<&str> = std::iter::once(release.image.as_str())
        .chain(images.iter().map(|(_, image)| image.as_str()))
        .chain([edge_image.as_str()])
        .filter(|image| !swarm::runs_already(&running_images, image))
        .collect();
    runner.step(&format!(
        "Checking that every node pulls the images that change ({} of them, {} nodes)",
        changed.len(),
        nodes.len()
    ));
    let pinned = pull_everywhere(runner, name, &changed, &nodes)?;
    let app_image = changed
        .iter()
        .zip(&pinned)
        .find(|(image, _)| **image == release.image)
        .map_or(release.image.as_str(), |(_, pinned)| pinned.as_str());
    let migrations = migrate::fingerprint(runner, app_image)?;

    let mut labels = version_labels(&release, running.as_ref());
    labels.extend(
        migrations
            .clone()
            .map(|fingerprint| (MIGRATIONS_LABEL.to_string(), fingerprint)),
    );
    let stack = stack_of(name, &release, flags, &configured, &images, &edge_image, labels);
    make_secrets(runner, name, &stack)?;
    for (service, _) in configured.iter().filter(|(_, config)| config.data.is_some()) {
        let label = db_label(service);
        if !swarm::nodes(runner, &label)?.iter().any(|node| node.labelled) {
            say!("   {service} is kept on the manager's node from now on (label {label}=true)");
            runner.run(&docker::label_node(manager, &label, "true"))?;
        }
    }

    let dir = project.root.join("target/deploy");
    fs::create_dir_all(&dir).with_context(|| format!("cannot make {dir}"))?;
    let services_only = stack.only(|service| service.name != APP && service.name != EDGE);
    let first = write(&dir, &format!("{name}-services.yml"), &services_only)?;
    let file = write(&dir, &format!("{name}.yml"), &stack)?;

    runner.step("Deploying the stack's services, the app's version unchanged");
    runner.run(&docker::stack_deploy_part(first.as_str(), name))?;
    for service in &services_only.services {
        follow(runner, &format!("{name}_{}", service.name), &service.image, &nodes)?;
    }
    let migrated = running.as_ref().and_then(|running| running.migrations.as_deref());
    migrate(
        runner,
        name,
        &stack,
        migrate::none_to_run(migrations.as_deref(), migrated),
    )?;

    runner.step(&format!("Deploying {} ({}) as {name}", release.version, release.image));
    runner.run(&docker::stack_deploy(file.as_str(), name))?;
    follow(runner, &format!("{name}_{APP}"), &release.image, &nodes)?;
    follow(runner, &format!("{name}_{EDGE}"), &edge_image, &nodes)?;
    runner.step(&format!(
        "Deployed {}: {} replicas, on http://{}:{}/todos (any node's address)",
        release.version,
        flags.replicas,
        nodes.first().map_or("NODE", |node| node.address.as_str()),
        flags.port
    ));
    Ok(0)
}

/// A global job per image, each task pulling it on its node and exiting: a node that cannot
/// pull one is named before anything of the stack changes. The images as the swarm pinned
/// them (`REF@DIGEST`: the nodes have them by digest, not by tag), in the order given.
fn pull_everywhere(runner: &Runner, stack: &str, images: &[&str], nodes: &[swarm::Node]) -> Result<Vec<String>> {
    let jobs: Vec<(String, &str)> = images
        .iter()
        .enumerate()
        .map(|(n, image)| (format!("{stack}_pull-{n}"), *image))
        .collect();
    for (job, image) in &jobs {
        // One an earlier deploy left; under --dry-run, which changes nothing, left alone
        if !runner.dry_run() {
            let _ = runner.probe(&docker::remove_services(std::slice::from_ref(job)));
        }
        let check = Job {
            name: job.clone(),
            image: image.to_string(),
            global: true,
            network: None,
            secrets: vec![],
            env: vec![],
            labels: vec![format!("{STACK_LABEL}={stack}")],
            entrypoint: Some("true".into()),
            command: vec![],
        };
        runner.make(&check.into(), docker::remove_services(std::slice::from_ref(job)))?;
    }
    if runner.dry_run() {
        return Ok(images.iter().map(|image| image.to_string()).collect());
    }
    let names: Vec<String> = jobs.iter().map(|(job, _)| job.clone()).collect();
    let pinned = if names.is_empty() {
        Vec::new()
    } else {
        runner
            .read(&docker::service_images(&names), READ)?
            .stdout
            .lines()
            .map(String::from)
            .collect()
    };
    for (job, image) in &jobs {
        if let Some(failed) = swarm::follow_job(runner, job, nodes.len(), PULLED_WITHIN)? {
            bail!(
                "node {} cannot pull {image}: {}.\nNothing was changed. Every node must reach the registry under \
                 that name (`docker pull {image}` on the node says more), and the image must be published there \
                 (`cargo xtask publish`)",
                swarm::address_of(nodes, &failed.node),
                failed.error
            );
        }
        runner.unmake(&docker::remove_services(std::slice::from_ref(job)))?;
    }
    Ok(pinned)
}

/// The stack: the configured services of the release settings, the app, and the edge.
fn stack_of(
    name: &str,
    release: &Release,
    flags: &flags::Deploy,
    configured: &[(&str, &Configured)],
    images: &[(String, String)],
    edge_image: &str,
    app_labels: Vec<(String, String)>,
) -> Stack {
    let secret = |var: &str| (format!("{name}_{}", var.to_lowercase()), var.to_string());
    // `(secrets to mount, VAR_FILE variables)` of the variables `vars`
    type Pairs = Vec<(String, String)>;
    let as_files = |vars: &[&String]| -> (Pairs, Pairs) {
        let secrets = vars.iter().map(|var| secret(var)).collect();
        let env = vars
            .iter()
            .map(|var| (format!("{var}_FILE"), format!("{SECRETS_DIR}/{var}")))
            .collect();
        (secrets, env)
    };
    let mut services = Vec::new();
    let mut app_env: Vec<(String, String)> = vec![
        (
            "DJANGO_RELEASE_SETTINGS_MODULE".into(),
            format!("todobackend.settings.{RELEASE_SETTINGS}"),
        ),
        ("DJANGO_ALLOWED_HOSTS".into(), flags.hosts.clone()),
    ];
    let (mut app_secrets, key_env) = as_files(&[&"DJANGO_SECRET_KEY".to_string()]);
    app_env.extend(key_env);
    for ((service, config), (_, image)) in configured.iter().zip(images) {
        let vars: Vec<&String> = config.secrets.iter().chain(&config.service_secrets).collect();
        let (secrets, files) = as_files(&vars);
        let mut env: Vec<(String, String)> = config.env.clone().into_iter().collect();
        env.extend(files);
        // Its readiness check, the secrets it reads from their files first
        let health = config.ready.as_ref().map(|ready| Health {
            test: vars
                .iter()
                .map(|var| format!("{var}=\"$(cat \"${var}_FILE\")\"; export {var}; "))
                .collect::<String>()
                + ready,
            start_secs: config.ready_timeout_secs as u32,
        });
        services.push(Service {
            name: service.to_string(),
            image: image.clone(),
            env,
            secrets,
            health,
            mode: Mode::Single,
            volumes: config
                .data
                .iter()
                .map(|path| (format!("{service}-data"), path.clone()))
                .collect(),
            pinned_to: config.data.as_ref().map(|_| format!("{name}.{service}")),
            ports: vec![],
            labels: vec![],
        });
        // The app reaches it by name, with the same values and secrets
        app_env.extend(config.env.clone());
        app_env.extend(config.host_env.iter().map(|var| (var.clone(), service.to_string())));
        app_env.extend(
            config
                .port_env
                .iter()
                .zip(config.port)
                .map(|(var, port)| (var.clone(), port.to_string())),
        );
        let (secrets, files) = as_files(&config.secrets.iter().collect::<Vec<_>>());
        app_secrets.extend(secrets);
        app_env.extend(files);
    }
    services.push(Service {
        name: APP.into(),
        image: release.image.clone(),
        env: app_env,
        secrets: app_secrets,
        health: Some(Health {
            test: APP_HEALTHY.into(),
            start_secs: 30,
        }),
        mode: Mode::Rolling(flags.replicas),
        volumes: vec![],
        pinned_to: None,
        ports: vec![],
        labels: app_labels,
    });
    services.push(Service {
        name: EDGE.into(),
        image: edge_image.into(),
        env: vec![
            ("APP_HOST".into(), APP.into()),
            ("APP_PORT".into(), APP_PORT.to_string()),
        ],
        secrets: vec![],
        // Ready once it sends requests somewhere: the deploy ends when every node serves
        health: Some(Health {
            test: EDGE_READY.into(),
            start_secs: 60,
        }),
        mode: Mode::PerNode,
        volumes: vec![],
        pinned_to: None,
        ports: vec![(flags.port, 8080)],
        labels: vec![],
    });
    Stack {
        name: name.into(),
        services,
    }
}

/// What the app runs now, and what it ran before (the labels `deploy` gave it).
#[derive(Clone)]
struct Running {
    image: String,
    version: String,
    previous: Option<(String, String)>,
    /// The fingerprint of the migrations the database was last migrated to by a deploy.
    migrations: Option<String>,
}

fn running(runner: &Runner, stack: &str) -> Result<Option<Running>> {
    let Some(line) = runner.probe(&docker::service_release(&format!("{stack}_{APP}")))? else {
        return Ok(None);
    };
    let value = |field: &str| (!field.is_empty() && field != "<no value>").then(|| field.to_string());
    let fields: Vec<&str> = line.split('|').collect();
    let [image, version, previous_image, previous_version, migrations] = fields[..] else {
        return Ok(None);
    };
    Ok(Some(Running {
        image: image.into(),
        version: value(version).unwrap_or_else(|| "unknown".into()),
        previous: value(previous_image).zip(Some(value(previous_version).unwrap_or_else(|| "unknown".into()))),
        migrations: value(migrations),
    }))
}

/// The app's labels: its version, and the version it replaces (what `--rollback` goes back
/// to), kept as it was when the same image is deployed again.
fn version_labels(release: &Release, running: Option<&Running>) -> Vec<(String, String)> {
    let mut labels = vec![("todobackend.version".to_string(), release.version.clone())];
    let previous = running.and_then(|running| {
        // The swarm pins `REF@DIGEST`: the same image, by tag or by digest, is no new version.
        let digest = |image: &str| image.rsplit_once('@').map(|(_, digest)| digest.to_string());
        let same = running.image == release.image
            || digest(&running.image).is_some() && digest(&running.image) == digest(&release.image);
        if same {
            running.previous.clone()
        } else {
            Some((running.image.clone(), running.version.clone()))
        }
    });
    if let Some((image, version)) = previous {
        labels.push(("todobackend.previous-image".into(), image));
        labels.push(("todobackend.previous-version".into(), version));
    }
    labels
}

/// Makes each secret the stack mounts that the swarm lacks, from a random value handed to
/// docker on standard input; an existing one is kept (the database's data was made with it).
fn make_secrets(runner: &Runner, stack: &str, spec: &Stack) -> Result<()> {
    let label = format!("{STACK_LABEL}={stack}");
    let existing = runner.probe(&docker::secret_names(&label))?.unwrap_or_default();
    let missing: Vec<&str> = spec
        .secrets()
        .into_iter()
        .filter(|secret| !existing.lines().any(|line| line == *secret))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    runner.step(&format!("Making the secrets {} from random values", missing.join(", ")));
    for secret in missing {
        runner.run(&docker::create_secret(secret, &label, &random_hex(24)?))?;
    }
    Ok(())
}

fn write(dir: &Utf8PathBuf, file: &str, stack: &Stack) -> Result<Utf8PathBuf> {
    let path = dir.join(file);
    fs::write(&path, stack.compose()).with_context(|| format!("cannot write {path}"))?;
    say!("   wrote {path}");
    Ok(path)
}
