//! Any `manage.py` command in the dev container, composed as `test` composes the suite's:
//! the dev image, the pip cache, `src/` mounted on a local engine, and the settings' services
//! on the run's private network. Run as the invoking user, so what it writes into `src/` is
//! theirs; interactive on a terminal, never waiting for input without one.

use anyhow::Result;

use super::test::{mounts_source, source_mount, with_services};
use super::{at_a_terminal, cache, dev_image, start};
use crate::cmd::Cmd;
use crate::docker::{self, Run};
use crate::project::{Project, RunName};
use crate::runner::Runner;
use crate::session;

/// Runs `python manage.py ARGS`; the result is its exit code.
pub fn run(project: &Project, runner: &Runner, settings: &str, args: &[String]) -> Result<u8> {
    session::recover(project, runner, false)?;
    let run = runner.run_name();
    let mount = mounts_source(project, runner, false, "running on")?;
    let image = dev_image::for_run(project, runner, mount)?;
    cache::ensure(project, runner)?;

    let terminal = at_a_terminal();
    let mut container = manage_container(&image, run, &project.names.cache_container, settings, args);
    if mount {
        container = container.volume(&source_mount(project));
        // Files written into the mounted src/ are the invoking user's. (On a remote engine
        // nothing comes back to this checkout: whoever writes there does not matter.)
        let (uid, gid) = (id(runner, "-u")?, id(runner, "-g")?);
        container = as_user(container, uid, gid);
    }
    if terminal {
        container = container.terminal();
    }
    let container = with_services(project, runner, settings, container)?;

    let command = format!("manage.py {}", args.join(" "));
    runner.step(&format!("Running `{command}` with todobackend.settings.{settings}"));
    let name = run.container("manage");
    runner.make(&docker::create(container), docker::remove_container(&name))?;
    let code = start(runner, &name, terminal)?;
    if code != 0 {
        runner.step(&format!("`{command}` failed with exit code {code}"));
    }
    Ok(code)
}

fn manage_container(image: &str, run: &RunName, cache: &str, settings: &str, args: &[String]) -> Run {
    Run::new(image)
        .name(&run.container("manage"))
        .labels(&run.labels)
        .volumes_from(cache)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
        .command(["python", "manage.py"])
        .command(args)
}

/// The container run as `uid:gid` where that is not root, with a HOME it may write to (the
/// image has no home for an arbitrary user; the virtualenv is readable by all).
fn as_user(container: Run, uid: u32, gid: u32) -> Run {
    if uid == 0 {
        return container;
    }
    container.user(&format!("{uid}:{gid}")).env("HOME", "/tmp")
}

/// The invoking user's id (`-u`) or group id (`-g`).
fn id(runner: &Runner, which: &str) -> Result<u32> {
    let answer = runner.probe(&Cmd::new("id", [which]))?;
    answer
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("`id {which}` did not give a number: who is running this?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_name() -> RunName {
        RunName {
            name: "todobackend-main-abc123".into(),
            labels: vec![("todobackend.run".into(), "todobackend-main-abc123".into())],
        }
    }

    #[test]
    fn the_manage_container_runs_manage_py_with_the_settings_and_the_cache() {
        let args = ["makemigrations".into(), "todo".into()];
        let cmd: Cmd = manage_container("sha256:1d", &run_name(), "cache", "test", &args).into();
        assert_eq!(
            cmd.to_string(),
            "docker run --name todobackend-main-abc123-manage --label application=todobackend \
             --label todobackend.run=todobackend-main-abc123 --volumes-from cache \
             -e DJANGO_SETTINGS_MODULE=todobackend.settings.test sha256:1d python manage.py makemigrations todo"
        );
    }

    #[test]
    fn a_user_other_than_root_runs_the_container_as_themselves_with_a_home_to_write_to() {
        let container = || manage_container("img", &run_name(), "cache", "base", &["shell".into()]);
        let cmd = |run: Run| Cmd::from(run).to_string();
        assert_eq!(cmd(as_user(container(), 0, 0)), cmd(container()));
        let theirs = cmd(as_user(container(), 1000, 100));
        assert!(
            theirs.contains(" --user 1000:100 ") && theirs.contains(" -e HOME=/tmp "),
            "{theirs}"
        );
        let on_a_terminal = cmd(container().terminal());
        assert!(on_a_terminal.contains(" --interactive --tty "), "{on_a_terminal}");
    }
}
