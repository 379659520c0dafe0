//! Any `manage.py` command in the dev container, composed as `test` composes the suite's:
//! the dev image, the pip cache, `src/` mounted on a local engine, and the settings' services
//! on the run's private network. It works on the data `serve` keeps, as compose's `run` uses
//! `up`'s database: the kept volumes, and a `serve` in progress's services, joined (`--fresh`:
//! throw-away data, as `test`'s). Run as the invoking user, so what it writes into `src/` is
//! theirs; interactive on a terminal, never waiting for input without one.

use anyhow::Result;

use crate::engine::docker::Run;
use crate::flags;
use crate::machinery::containers::run_attached;
use crate::machinery::dev_container::{self, Data};
use crate::machinery::host::{at_a_terminal, invoking_user};
use crate::project::Project;
use crate::runner::Runner;

impl flags::Manage {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        project.check_settings(&self.settings)?;
        run(
            project,
            &Runner::ready(project, dry_run, &[])?,
            &self.settings,
            if self.fresh { Data::Fresh } else { Data::Shared },
            &self.args,
        )
    }
}

/// The host's variables with this prefix reach the command (DJANGO_SUPERUSER_USERNAME, ...).
const PASSED_ON: &str = "DJANGO_SUPERUSER_";

/// Runs `python manage.py ARGS`; the result is its exit code.
fn run(project: &Project, runner: &Runner, settings: &str, data: Data, args: &[String]) -> Result<u8> {
    let (container, mounted) = dev_container::prepare(project, runner, "manage", settings, false, "running on")?;
    let mut container = container.command(["python", "manage.py"]).command(args);
    if mounted {
        // Files written into the mounted src/ are the invoking user's. (On a remote engine
        // nothing comes back to this checkout: whoever writes there does not matter.)
        let (uid, gid) = invoking_user(runner)?;
        container = as_user(container, uid, gid);
    }
    if at_a_terminal() {
        container = container.terminal();
    }
    // `createsuperuser --noinput` reads its answers from these: passed by name, as secrets are.
    for (key, value) in std::env::vars().filter(|(key, _)| key.starts_with(PASSED_ON)) {
        container = container.secret(&key, &value);
    }
    if data != Data::Fresh {
        container = dev_container::with_kept_data(project, runner, settings, container)?;
    }
    let container = dev_container::with_services(project, runner, settings, data, container)?;

    let command = format!("manage.py {}", args.join(" "));
    runner.step(&format!("Running `{command}` with todobackend.settings.{settings}"));
    let code = run_attached(runner, container)?;
    if code != 0 {
        runner.step(&format!("`{command}` failed with exit code {code}"));
    }
    Ok(code)
}

/// The container run as `uid:gid` where that is not root, with a HOME it may write to (the
/// image has no home for an arbitrary user; the virtualenv is readable by all).
fn as_user(container: Run, uid: u32, gid: u32) -> Run {
    if uid == 0 {
        return container;
    }
    container.user(&format!("{uid}:{gid}")).env("HOME", "/tmp")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::cmd::Cmd;

    #[test]
    fn a_user_other_than_root_runs_the_container_as_themselves_with_a_home_to_write_to() {
        let container = || Run::new("img").command(["python", "manage.py", "shell"]);
        let cmd = |run: Run| Cmd::from(run).to_string();
        assert_eq!(cmd(as_user(container(), 0, 0)), cmd(container()));
        assert_eq!(
            cmd(as_user(container(), 1000, 100)),
            "docker run --label application=todobackend --user 1000:100 -e HOME=/tmp img python manage.py shell"
        );
        let on_a_terminal = cmd(container().terminal());
        assert!(on_a_terminal.contains(" --interactive --tty "), "{on_a_terminal}");
    }
}
