//! The migrations of a deploy: a one-off job of the new version on the stack's network,
//! before the app is updated; none when the new version's are those the database was last
//! migrated to (a fingerprint the release image carries, `MIGRATIONS_LABEL`), so an update of
//! the code alone starts no container more under the users' load.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::STACK_LABEL;
use crate::console::say;
use crate::engine::docker::{self, Job};
use crate::machinery::stack::{APP, Stack};
use crate::machinery::swarm;
use crate::project::MIGRATIONS_LABEL;
use crate::runner::{READ, Runner};
use crate::signals;

const MIGRATED_WITHIN: Duration = Duration::from_secs(300);

/// The migrations fingerprint of `image` as the manager's engine has it (the pull check ran
/// it there); `None` when it has not the image, or the image has no fingerprint: its
/// migrations then run.
pub(super) fn fingerprint(runner: &Runner, image: &str) -> Result<Option<String>> {
    let line = runner.probe(&docker::image_label(&by_digest(image), MIGRATIONS_LABEL))?;
    Ok(line
        .as_deref()
        .and_then(|line| line.split_once(' '))
        .map(|(_, label)| label.trim())
        .filter(|label| !label.is_empty() && *label != "<no value>")
        .map(String::from))
}

/// `REF:TAG@DIGEST` (as the swarm pins an image) as `REF@DIGEST`, the name a node that
/// pulled it by digest knows it by; any other name as it is.
fn by_digest(image: &str) -> String {
    match image.split_once('@') {
        Some((name, digest)) => {
            let repository = match name.rsplit_once(':') {
                Some((repository, tag)) if !tag.contains('/') => repository,
                _ => name,
            };
            format!("{repository}@{digest}")
        }
        None => image.to_string(),
    }
}

/// The fingerprint when the new version's migrations are known and are those the database
/// was last migrated to: nothing to run.
pub(super) fn none_to_run<'a>(new: Option<&'a str>, migrated: Option<&str>) -> Option<&'a str> {
    new.filter(|new| Some(*new) == migrated)
}

/// The migrations, as a job of the app's new image on the stack's network: before the app
/// is updated, and a failure stops the deploy with the job's log.
pub(super) fn migrate(runner: &Runner, stack: &str, spec: &Stack, unchanged: Option<&str>) -> Result<()> {
    let app = spec
        .services
        .iter()
        .find(|service| service.name == APP)
        .context("the stack has no app")?;
    let job = format!("{stack}_migrate");
    runner.step(&match unchanged {
        Some(fingerprint) => {
            format!("Migrating the database: none to run, the new version's are the last run ({fingerprint})")
        }
        None => "Migrating the database with a one-off job of the new version".to_string(),
    });
    let remove = docker::remove_services(std::slice::from_ref(&job));
    // The job an earlier deploy left (Ctrl-C): migrations it still runs end before anything
    // else runs, as one cut short may leave a schema half-changed; then it goes. Never under
    // --dry-run, which changes nothing.
    let earlier = if runner.dry_run() {
        Vec::new()
    } else {
        swarm::tasks(runner, &job)?
    };
    if earlier.iter().any(|task| !task.ended()) {
        say!("   the migrations an earlier deploy started go on: waiting for them to end");
        // Failed or not: this deploy's own job runs them again and says how that ends, or
        // the database has those of the version it deploys.
        let _earlier = swarm::follow_job(runner, &job, 1, MIGRATED_WITHIN)?;
    }
    if !earlier.is_empty() {
        let _ = runner.probe(&remove);
    }
    if unchanged.is_some() {
        return Ok(());
    }
    let migration = Job {
        name: job.clone(),
        image: app.image.clone(),
        global: false,
        network: Some(format!("{stack}_default")),
        secrets: app.secrets.clone(),
        env: app.env.clone(),
        labels: vec![format!("{STACK_LABEL}={stack}")],
        entrypoint: None,
        command: ["django-admin", "migrate", "--noinput"].map(String::from).into(),
    };
    runner.make(&migration.into(), remove.clone())?;
    if runner.dry_run() {
        return Ok(());
    }
    let followed = swarm::follow_job(runner, &job, 1, MIGRATED_WITHIN).inspect_err(|err| {
        if err.downcast_ref::<signals::Interrupted>().is_some() {
            runner.keep(std::slice::from_ref(&job));
            say!(
                "   the migrations go on by themselves, never cut short (`docker service logs {job}`); the app was \
                 not updated: `cargo xtask deploy` again finishes the deploy"
            );
        }
    })?;
    if let Some(failed) = followed {
        let log = runner.read(&docker::service_logs(&job, 40), READ)?;
        bail!(
            "the migrations failed ({}); nothing else was changed, the running version serves on. Their log:\n{}{}",
            failed.error,
            log.stdout,
            log.stderr
        );
    }
    runner.unmake(&remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_image_is_asked_by_its_digest_alone() {
        assert_eq!(
            by_digest("127.0.0.1:5000/app:v2@sha256:ab"),
            "127.0.0.1:5000/app@sha256:ab"
        );
        assert_eq!(
            by_digest("127.0.0.1:5000/app@sha256:ab"),
            "127.0.0.1:5000/app@sha256:ab"
        );
        assert_eq!(by_digest("127.0.0.1:5000/app:v2"), "127.0.0.1:5000/app:v2");
    }

    #[test]
    fn migrations_run_unless_the_new_version_s_are_known_to_be_those_last_run() {
        assert_eq!(none_to_run(Some("ab12"), Some("ab12")), Some("ab12"));
        assert_eq!(none_to_run(Some("ab12"), Some("cd34")), None, "changed");
        assert_eq!(
            none_to_run(Some("ab12"), None),
            None,
            "the first deploy, or one before fingerprints"
        );
        assert_eq!(none_to_run(None, Some("ab12")), None, "an image without one");
        assert_eq!(none_to_run(None, None), None);
    }
}
