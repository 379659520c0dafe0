//! The baseline with no Docker at all: the same suite with the same reports (JUnit through
//! the settings' xmlrunner, coverage XML), run natively on this host the way a developer
//! would, `coverage run manage.py test` then `coverage xml` (as scripts/run-tests.sh ran it
//! in the container before the warm worker), in a venv the bench makes itself from the same
//! requirements.

use std::fs;

use anyhow::{Context, Result};
use camino::Utf8PathBuf;

use super::edits;
use crate::engine::cmd::Cmd;
use crate::project::Project;
use crate::runner::Runner;

/// Kept between bench runs, beside (not in) the copy, which each run makes anew.
const VENV: &str = "target/bench-native-venv";
/// What needs headers a host may lack (MariaDB's): only the MySQL settings use it, and the
/// native run has the base settings (SQLite), as the container's default run has.
const WITHOUT: &[&str] = &["mysqlclient"];
/// The interpreter and requirements the venv was made from: while they are the same, it is
/// reused.
const STAMP: &str = "bench-requirements.txt";
/// The copy's directory for the native run's script, reports and coverage data.
const OUT: &str = "target/native";
/// The native run: the suite under coverage, then the combined coverage XML; the suite's exit
/// status, whatever happens to the reports. JUnit XML comes from the settings' xmlrunner,
/// which REPORTS_DIR turns on.
const SCRIPT: &str = r#"set -eu
mkdir -p "$REPORTS_DIR"
status=0
coverage run manage.py test --noinput "$@" || status=$?
if ! { coverage combine -q && coverage xml -q -o "$REPORTS_DIR/coverage.xml"; }; then
  echo "no coverage report" >&2
fi
exit "$status"
"#;

pub struct Native {
    venv: Utf8PathBuf,
}

impl Native {
    /// The venv, made (or made again) unless it holds the same requirements already.
    pub fn ready(project: &Project, copy: &Project, runner: &Runner) -> Result<Native> {
        let script = copy.root.join(OUT).join("run-tests.sh");
        fs::create_dir_all(copy.root.join(OUT)).with_context(|| format!("cannot create {}", copy.root.join(OUT)))?;
        fs::write(&script, SCRIPT).with_context(|| format!("cannot write {script}"))?;
        let read = |name: &str| {
            let path = project.root.join("src").join(name);
            fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))
        };
        let requirements =
            edits::native_requirements(&read("requirements.txt")?, &read("requirements_test.txt")?, WITHOUT);
        // The interpreter too: a venv of another Python is remade.
        let wanted = format!("# {}\n{requirements}", python());
        let venv = project.root.join(VENV);
        let stamp = venv.join(STAMP);
        if venv.join("bin/python").exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            return Ok(Native { venv });
        }
        runner.step(&format!(
            "Making the native baseline's venv {VENV} (not timed): the requirements but {}",
            WITHOUT.join(", ")
        ));
        let _ = fs::remove_dir_all(&venv);
        runner.quiet(&Cmd::new(python(), ["-m", "venv", venv.as_str()]))?;
        let pending = venv.join("requirements.pending.txt");
        if !runner.dry_run() {
            fs::write(&pending, &requirements).with_context(|| format!("cannot write {pending}"))?;
        }
        let pip = venv.join("bin/pip");
        let install = [
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            pending.as_str(),
        ];
        runner.quiet(&Cmd::new(pip.as_str(), install))?;
        if !runner.dry_run() {
            fs::write(&stamp, &wanted).with_context(|| format!("cannot write {stamp}"))?;
        }
        Ok(Native { venv })
    }

    /// `SCRIPT ARGS` in `copy`'s src/ with the base settings, as the dev container runs the
    /// suite: the reports in the copy's target/native/reports. No bytecode written, as in the
    /// container: src/ is mounted there, and would serve it ours (the venv's own modules are
    /// compiled as pip installed them, as the image's are; PYTHONPYCACHEPREFIX, tried instead,
    /// hid those and made every run 2 s slower).
    pub fn tests(&self, copy: &Project, args: &[&str]) -> Cmd {
        let out = copy.root.join(OUT);
        // A plain PATH: the venv's, then the system's, whatever the caller's shell had.
        let path = format!("{}/bin:/usr/local/bin:/usr/bin:/bin", self.venv);
        let src = copy.root.join("src");
        let script = copy.root.join(OUT).join("run-tests.sh");
        let argv = ["-C", src.as_str(), "sh", script.as_str()]
            .into_iter()
            .chain(args.iter().copied());
        Cmd::new("env", argv)
            .env("PATH", &path)
            .env("VIRTUAL_ENV", self.venv.as_str())
            .env("DJANGO_SETTINGS_MODULE", "todobackend.settings.base")
            .env("REPORTS_DIR", out.join("reports").as_str())
            .env("COVERAGE_FILE", out.join(".coverage").as_str())
            .env("PYTHONDONTWRITEBYTECODE", "1")
    }
}

impl Native {
    /// Both reports of the last native run, or an error: a baseline that skipped one would
    /// not be the same work.
    pub fn check_reports(copy: &Project) -> Result<()> {
        let reports = copy.root.join(OUT).join("reports");
        for report in ["junit.xml", "coverage.xml"] {
            let path = reports.join(report);
            if fs::metadata(&path).map_or(true, |meta| meta.len() == 0) {
                anyhow::bail!("the native run left no {path}: it is not the same work as `cargo xtask test`");
            }
        }
        Ok(())
    }
}

/// Debian's Python where the host has it, the interpreter the images run (a `python3` first
/// on PATH may be another build, pyenv's say), else whichever `python3` there is.
fn python() -> &'static str {
    const DEBIANS: &str = "/usr/bin/python3";
    if std::path::Path::new(DEBIANS).exists() {
        DEBIANS
    } else {
        "python3"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_native_run_is_its_script_in_the_copys_source_with_its_reports_in_the_copy() {
        let copy = Project::locate().unwrap();
        let native = Native { venv: "/v".into() };
        let cmd = native.tests(&copy, &["--parallel", "2"]);
        let root = &copy.root;
        assert_eq!(cmd.program, "env");
        assert_eq!(
            cmd.args,
            [
                "-C",
                &format!("{root}/src"),
                "sh",
                &format!("{root}/target/native/run-tests.sh"),
                "--parallel",
                "2"
            ]
        );
        let env = |key: &str| cmd.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert!(env("PATH").unwrap().starts_with("/v/bin:"));
        assert_eq!(env("DJANGO_SETTINGS_MODULE").unwrap(), "todobackend.settings.base");
        assert_eq!(env("REPORTS_DIR").unwrap(), format!("{root}/target/native/reports"));
    }
}
