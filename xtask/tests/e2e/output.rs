//! What a run prints: a dry run's commands, with nothing made on the engine, and colour on a
//! terminal but none with `NO_COLOR`.

use crate::support;
use crate::support::Checkout;
use crate::{events_since, unix_time, xtask_ok};

#[test]
fn a_dry_run_prints_the_commands_and_makes_nothing_on_the_engine() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("dry-run");
    let started = unix_time();
    let out = xtask_ok(&copy, copy.root(), &["test", "--settings", "test", "--dry-run"]);
    assert!(
        out.contains("$ MYSQL_PASSWORD=*** MYSQL_ROOT_PASSWORD=*** docker run --detach"),
        "{out}"
    );
    assert!(
        out.contains(&format!("$ docker rm --force --volumes {}-", copy.prefix())),
        "{out}"
    );
    // Whatever the copy would have made carries its names or its path: tests beside this one
    // make things of their own meanwhile.
    let root = copy.root().display().to_string();
    let made: Vec<String> = events_since(started, &[], "{{json .}}")
        .into_iter()
        .filter(|event| event.contains(copy.prefix()) || event.contains(&root))
        .collect();
    assert_eq!(made, Vec::<String>::new());
    assert_eq!(copy.on_the_engine(), Vec::<String>::new());
}

/// Runs `cargo xtask test` in `copy` under `script`, which gives it a terminal.
fn on_a_terminal(copy: &Checkout, no_color: bool) -> String {
    let mut command = copy.command("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(r#""$XTASK" test"#)
        .arg("/dev/null")
        .env("XTASK", env!("CARGO_BIN_EXE_xtask"))
        .env_remove("NO_COLOR");
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{out}");
    out
}

#[test]
fn the_output_has_colour_on_a_terminal_and_none_with_no_color() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("colour");
    assert!(on_a_terminal(&copy, false).contains("\x1b["));
    let plain = on_a_terminal(&copy, true);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(plain.contains("=> Running the test suite"), "{plain}");
    assert!(
        plain.contains("=> Took ")
            && plain.lines().any(|line| line
                .trim_end()
                .ends_with("s  Running the test suite with todobackend.settings.base")),
        "{plain}"
    );
}
