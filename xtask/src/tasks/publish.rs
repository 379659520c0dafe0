//! `cargo xtask publish`: the course's `make tag` and `make publish`. Pushes the release image
//! that passed its acceptance tests (`release` records which) to a registry under three tags:
//! its version (`git describe` when it was built), its short commit, and `latest`; then prints
//! the digest the registry gave it. Pushing the same image again changes nothing.

use anyhow::{Context, Result, bail};

use crate::console::{say, show};
use crate::engine::cmd::Cmd;
use crate::engine::docker;
use crate::machinery::services;
use crate::machinery::stack::{EDGE, EDGE_DOCKERFILE, RELEASE_SETTINGS};
use crate::project::{ACCEPTED, PUBLISHED, Project};
use crate::runner::Runner;

use crate::flags;

impl flags::Publish {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let runner = Runner::ready(project, dry_run, &[])?;
        run(project, &runner, &self.registry, &self.repository, self.force)
    }
}

/// Where the credentials come from, when they are not those of an existing `docker login`.
pub const USERNAME_ENV: &str = "TODOBACKEND_REGISTRY_USERNAME";
pub const PASSWORD_ENV: &str = "TODOBACKEND_REGISTRY_PASSWORD";

fn run(project: &Project, runner: &Runner, registry: &str, repository: &str, force: bool) -> Result<u8> {
    let image = &project.names.release_image;
    let Some(id) = runner.probe(&docker::image_id(image))? else {
        bail!("there is no release image {image} to publish: `cargo xtask release` builds and tests it");
    };
    let label = |key: &str| -> Result<String> {
        let line = runner.probe(&docker::image_label(image, key))?.unwrap_or_default();
        Ok(line
            .split_once(' ')
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty() && *value != "<no value>")
            .unwrap_or("unknown")
            .to_string())
    };
    let version = label("org.opencontainers.image.version")?;
    let revision = label("org.opencontainers.image.revision")?;

    let refusals = refusals(project, runner, &id, &version)?;
    if !refusals.is_empty() {
        if !force {
            bail!(
                "{image} ({version}) is not published: {}.\nFix that, or publish anyway with --force.",
                refusals.join("; ")
            );
        }
        say!("   publishing anyway (--force): {}", refusals.join("; "));
    }

    login(runner, registry)?;
    let name = format!("{registry}/{repository}");
    runner.step(&format!("Publishing {image} ({version}) as {name}"));
    let tags = tags(&version, &revision);
    for tag in &tags {
        let reference = format!("{name}:{tag}");
        // The registry's names are the run's: the image keeps its own when they go.
        runner.make(
            &docker::tag(image, &reference),
            docker::remove_all(docker::Kind::Image, std::slice::from_ref(&reference)),
        )?;
        runner.run(&docker::push(&reference))?;
    }
    let digest = digest_of(runner, &name, &tags[0])?;
    runner.step(&format!("Pushed {} as {}", tags.join(", "), digest));
    let mut record = format!("release {digest} {id} {version}\n");
    for (role, image) in stack_images(project, runner, &name)? {
        record.push_str(&format!("{role} {image}\n"));
    }
    if runner.dry_run() {
        return Ok(0);
    }
    // What `deploy` deploys: this push, the image it was (to check it passed), and the stack's
    // other images
    let published = project.root.join(PUBLISHED);
    std::fs::write(&published, record).with_context(|| format!("cannot write {published}"))?;
    show!("{digest}");
    Ok(0)
}

/// The images a deployment runs beside the release (`deploy`): the release settings'
/// services' (the database) and the edge's, built where the engine lacks them, pushed as
/// `NAME-ROLE:ID` (the first 12 of the image's id), each as `(role, NAME-ROLE@DIGEST)`.
fn stack_images(project: &Project, runner: &Runner, name: &str) -> Result<Vec<(String, String)>> {
    let mut images: Vec<(String, String, Option<String>)> = project
        .config
        .services_for(RELEASE_SETTINGS)
        .into_iter()
        .map(|(role, service)| (role.to_string(), service.image.clone(), service.dockerfile.clone()))
        .collect();
    images.push((
        EDGE.into(),
        project.names.edge_image.clone(),
        Some(EDGE_DOCKERFILE.into()),
    ));
    let mut pushed = Vec::new();
    for (role, image, dockerfile) in images {
        services::ensure_built(project, runner, &image, dockerfile.as_deref())?;
        let id = runner.probe(&docker::image_id(&image))?.unwrap_or_default();
        // The image's own id names it: a new build, a new tag. (A dry run may have none yet.)
        let tag: String = id
            .strip_prefix("sha256:")
            .unwrap_or("latest")
            .chars()
            .take(12)
            .collect();
        let repository = format!("{name}-{role}");
        runner.step(&format!(
            "Publishing {image}, the deployment's {role}, as {repository}:{tag}"
        ));
        let reference = format!("{repository}:{tag}");
        runner.make(
            &docker::tag(&image, &reference),
            docker::remove_all(docker::Kind::Image, std::slice::from_ref(&reference)),
        )?;
        runner.run(&docker::push(&reference))?;
        pushed.push((role, digest_of(runner, &repository, &tag)?));
    }
    Ok(pushed)
}

/// `name@sha256:...`, the digest the registry gave `name:tag` (`name:tag` itself in a dry run).
fn digest_of(runner: &Runner, name: &str, tag: &str) -> Result<String> {
    if runner.dry_run() {
        return Ok(format!("{name}:{tag}"));
    }
    let digests = runner.probe(&docker::repo_digests(&format!("{name}:{tag}")))?;
    let prefix = format!("{name}@");
    digests
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with(&prefix))
        .map(String::from)
        .with_context(|| format!("the registry gave {name} no digest: see docker's output above"))
}

/// The tags an image of `version` built from commit `revision` is pushed under: the version,
/// the short commit (when known and not the version already), and `latest`.
fn tags(version: &str, revision: &str) -> Vec<String> {
    let mut tags = vec![tag_safe(version)];
    if revision != "unknown" {
        let short: String = revision.chars().take(7).collect();
        if !tags.contains(&short) {
            tags.push(short);
        }
    }
    tags.push("latest".into());
    tags
}

/// A tag docker takes: letters, digits, `_`, `.` and `-`, at most 128 (a version from `git
/// describe` of a tag named `release/1.0` has a `/`).
fn tag_safe(version: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let tag: String = version
        .chars()
        .map(|c| if valid(c) { c } else { '-' })
        .take(128)
        .collect();
    match tag.strip_prefix(['.', '-']) {
        Some(_) => format!("v{tag}"),
        None => tag,
    }
}

/// Why the image must not be published: it is not the one whose acceptance tests passed, its
/// version is not a clean commit's, or the tree has changes it was not built from.
fn refusals(project: &Project, runner: &Runner, id: &str, version: &str) -> Result<Vec<String>> {
    let mut refusals = Vec::new();
    let accepted = std::fs::read_to_string(project.root.join(ACCEPTED)).unwrap_or_default();
    if accepted.trim() != id {
        refusals.push(format!(
            "its acceptance tests have not passed (`cargo xtask release` runs them; {ACCEPTED} names the image that passed)"
        ));
    }
    if version == "unknown" {
        refusals.push("it has no version: it was built without git history".into());
    } else if version.ends_with("-dirty") {
        refusals.push(format!("it was built from a tree with uncommitted changes ({version})"));
    }
    let status = runner.probe(&Cmd::new("git", ["-C", project.root.as_str(), "status", "--porcelain"]))?;
    if status.is_some_and(|changes| !changes.is_empty()) {
        refusals.push("the tree has uncommitted changes (`git status`)".into());
    }
    Ok(refusals)
}

/// Logs in with the credentials of the environment, when both are set; otherwise the client's
/// existing login (or none: a registry that asks for nothing).
fn login(runner: &Runner, registry: &str) -> Result<()> {
    let credentials = (std::env::var(USERNAME_ENV), std::env::var(PASSWORD_ENV));
    if let (Ok(username), Ok(password)) = credentials
        && !username.is_empty()
        && !password.is_empty()
    {
        runner.step(&format!(
            "Logging in to {registry} as {username} (password from {PASSWORD_ENV}, on stdin)"
        ));
        return runner.run(&docker::login(registry, &username, &password));
    }
    say!("   no {USERNAME_ENV} and {PASSWORD_ENV}: using the docker client's own login for {registry}, if any");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_tagged_with_its_version_its_short_commit_and_latest() {
        assert_eq!(
            tags("v1.2.0", "0123456789abcdef"),
            ["v1.2.0", "0123456"]
                .map(String::from)
                .into_iter()
                .chain(["latest".into()])
                .collect::<Vec<_>>()
        );
        // `git describe --always` of an untagged commit is the short commit itself.
        assert_eq!(tags("0123456", "0123456789abcdef"), ["0123456", "latest"]);
        assert_eq!(tags("release/1.0-2-gabc", "unknown"), ["release-1.0-2-gabc", "latest"]);
        assert_eq!(tag_safe("-x"), "v-x");
    }
}
