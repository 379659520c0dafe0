use anyhow::Result;

use super::{cache, dev_image};
use crate::docker::Run;
use crate::project::{CACHE_CONTAINER, DEV_IMAGE, Project};
use crate::runner::Runner;

/// Runs the suite in a throw-away container; the result is the suite's exit code.
pub fn run(project: &Project, runner: &Runner, settings: &str, args: &[String]) -> Result<u8> {
    // Always built, so the run tests the current source; the layer cache makes it quick.
    dev_image::build(project, runner)?;
    cache::ensure(project, runner)?;
    runner.step(&format!("Running the test suite with todobackend.settings.{settings}"));
    let code = runner.status(&test_container(settings, args).into())?;
    if code != 0 {
        runner.step(&format!("The test run failed with exit code {code}"));
    }
    Ok(code)
}

fn test_container(settings: &str, args: &[String]) -> Run {
    Run::new(DEV_IMAGE)
        .remove()
        .volumes_from(CACHE_CONTAINER)
        .env("DJANGO_SETTINGS_MODULE", &format!("todobackend.settings.{settings}"))
        .command(["python", "manage.py", "test", "--noinput"])
        .command(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Cmd;

    #[test]
    fn the_test_container_gets_the_settings_the_cache_and_the_arguments() {
        let cmd: Cmd = test_container("test", &["todo.tests".into(), "-v".into(), "2".into()]).into();
        assert_eq!(
            cmd.to_string(),
            "docker run --rm --label application=todobackend --volumes-from cache \
             -e DJANGO_SETTINGS_MODULE=todobackend.settings.test todobackend-dev \
             python manage.py test --noinput todo.tests -v 2"
        );
    }
}
