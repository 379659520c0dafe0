//! `cargo xtask manage` without a terminal: `check`, a failing command's exit code, migrations
//! written into `src/` as the user who ran it, `migrate` on a throw-away database (`--fresh`),
//! `dbshell` on the settings' database.

use std::fs;
use std::process::Command;

use crate::support;
use crate::support::{A_RUN_ENDS_WITHIN, Checkout, Finished, left_on_engine, run_name, run_to_end};
use crate::{assert_the_run_left_nothing, unix_time};

/// Runs `cargo xtask manage ARGS` in `copy` without a terminal (stdin null) to its end.
fn manage(copy: &Checkout, args: &[&str]) -> Finished {
    let mut all = vec!["manage"];
    all.extend(args);
    run_to_end(copy.xtask(&all), A_RUN_ENDS_WITHIN)
}

#[test]
fn manage_check_runs_in_the_dev_container_and_exits_0() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-check");
    let finished = manage(&copy, &["--", "check"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains("System check identified no issues"), "{out}");
    assert!(out.contains(":/application "), "src/ was not mounted:\n{out}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{out}");
}

#[test]
fn a_failing_manage_command_makes_the_task_fail_with_its_exit_code() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-fails");
    // Django exits 1 for a command it does not know...
    let finished = manage(&copy, &["--", "no_such_command"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(out.contains("Unknown command: 'no_such_command'"), "{out}");
    assert!(out.contains("failed with exit code 1"), "{out}");
    // Whatever the code, it is forwarded as it is.
    let finished = manage(&copy, &["--", "shell", "-c", "import sys; sys.exit(7)"]);
    assert_eq!(finished.code(), Some(7), "{}:\n{}", finished.how(), finished.output());
}

#[test]
fn makemigrations_writes_a_migration_into_src_owned_by_the_user_who_ran_it() {
    use std::os::unix::fs::MetadataExt;
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("makemigrations");
    copy.edit("src/todo/models.py", |models| {
        models.replace("    order = ", "    notes = models.TextField(blank=True)\n    order = ")
    });
    let finished = manage(&copy, &["--", "makemigrations", "todo"]);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    let migrations = copy.root().join("src/todo/migrations");
    let made: Vec<_> = fs::read_dir(&migrations)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("0002_"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}\n{out}");
    let text = fs::read_to_string(&made[0]).unwrap();
    assert!(text.contains("name='notes'"), "{text}");
    let me = fs::metadata("/proc/self").unwrap();
    let owner = fs::metadata(&made[0]).unwrap();
    assert_eq!(
        (owner.uid(), owner.gid()),
        (me.uid(), me.gid()),
        "{}",
        made[0].display()
    );
    // Editable without sudo.
    fs::OpenOptions::new().append(true).open(&made[0]).unwrap();
}

#[test]
fn a_user_other_than_root_gets_the_migration_as_their_own_through_docker_run_user() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-as-user");
    // The tests run as root: an `id` first on PATH says the user is 1234:1234, whose checkout
    // src/ is theirs, as on a developer's machine.
    let bin = copy.root().join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(
        bin.join("id"),
        "#!/bin/sh\ncase \"$1\" in -u|-g) echo 1234 ;; *) exec /usr/bin/id \"$@\" ;; esac\n",
    )
    .unwrap();
    fs::set_permissions(bin.join("id"), fs::Permissions::from_mode(0o755)).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "1234:1234"])
        .arg(copy.root().join("src"))
        .status()
        .unwrap();
    assert!(chown.success());
    copy.edit("src/todo/models.py", |models| {
        models.replace("    order = ", "    notes = models.TextField(blank=True)\n    order = ")
    });
    let mut xtask = copy.xtask(&["manage", "--", "makemigrations", "todo"]);
    xtask.env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()));
    let finished = run_to_end(xtask, A_RUN_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains(" --user 1234:1234 "), "{out}");
    let made = fs::read_dir(copy.root().join("src/todo/migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("0002_"))
        .unwrap_or_else(|| panic!("no migration:\n{out}"));
    let owner = fs::metadata(&made).unwrap();
    assert_eq!((owner.uid(), owner.gid()), (1234, 1234), "{}", made.display());
}

#[test]
fn manage_fresh_migrate_with_the_test_settings_runs_against_a_database_that_is_gone_after() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-migrate");
    let started = unix_time();
    // Without --fresh, manage works on the data serve keeps (tests/day.rs): that stays.
    let args = ["--fresh", "--settings", "test", "--", "migrate", "--noinput"];
    let finished = manage(&copy, &args);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.contains("Applying todo.0001_initial... OK"), "{out}");
    assert_the_run_left_nothing(&run_name(&out), started, &out);
}

#[test]
fn manage_dbshell_reaches_the_settings_database_with_its_client() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-dbshell");
    let finished = manage(
        &copy,
        &[
            "--settings",
            "test",
            "--",
            "dbshell",
            "--",
            "-e",
            "SELECT 6*7 AS answer",
        ],
    );
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "{}:\n{out}", finished.how());
    assert!(out.lines().any(|line| line.trim() == "42"), "{out}");
}
