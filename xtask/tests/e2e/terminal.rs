//! On a real terminal (tmux) and without one: `manage -- shell` interactive, SIGTERM putting the
//! terminal back, pdb at a `breakpoint()` in a test, Ctrl-C stopping the suite; without a
//! terminal, nothing ever waits for input.

use std::fs;
use std::time::{Duration, Instant};

use crate::assert_the_reports_count_the_tests_that_ran;
use crate::support;
use crate::support::{A_RUN_ENDS_WITHIN, Checkout, SIGTERM, Tmux, left_on_engine, run_to_end, signal_process};

#[test]
fn manage_shell_on_a_terminal_is_interactive() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e", "manage -- shell") else {
        return;
    };
    let copy = Checkout::copy("manage-shell");
    // The run, then its exit code, on a real terminal; the pane stays to be read.
    let script = r#""$XTASK" manage -- shell; echo "exit code $?"; sleep 600"#;
    tmux.start("manage", &copy, script);
    tmux.wait_for("manage", |line| line.starts_with(">>>"), A_RUN_ENDS_WITHIN);
    let keys = |keys: &str| tmux.keys("manage", &[keys, "Enter"]);
    keys("print(6*7)");
    tmux.wait_for("manage", |line| line.trim() == "42", Duration::from_secs(20));
    // Ctrl-C is the shell's, through the terminal: Python's KeyboardInterrupt, and the run goes on.
    tmux.keys("manage", &["C-c"]);
    tmux.wait_for(
        "manage",
        |line| line.contains("KeyboardInterrupt"),
        Duration::from_secs(20),
    );
    keys("print(7*6+1)");
    tmux.wait_for("manage", |line| line.trim() == "43", Duration::from_secs(20));
    keys("exit()");
    let shown = tmux.wait_for("manage", |line| line.starts_with("exit code "), Duration::from_secs(60));
    assert!(shown.lines().any(|line| line.trim() == "exit code 0"), "{shown}");
    assert!(shown.contains("docker start --attach --interactive"), "{shown}");
}

#[test]
fn sigterm_during_manage_shell_ends_the_run_puts_the_terminal_back_and_leaves_nothing() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-sigterm", "manage -- shell") else {
        return;
    };
    let copy = Checkout::copy("manage-shell-sigterm");
    let pid_file = copy.root().join("xtask.pid");
    // The xtask's pid, then its exit code and whether the terminal is back in cooked mode.
    let script = "sh -c 'echo $$ > xtask.pid; exec \"$XTASK\" manage -- shell'; echo \"exit code $?\"; \
                  stty -a | tr ' ' '\\n' | grep -x -- '-\\{0,1\\}icanon'; sleep 600";
    tmux.start("manage", &copy, script);
    tmux.wait_for("manage", |line| line.starts_with(">>>"), A_RUN_ENDS_WITHIN);
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    signal_process(pid, SIGTERM);
    let shown = tmux.wait_for(
        "manage",
        |line| line.trim().ends_with("icanon"),
        Duration::from_secs(30),
    );
    assert!(shown.lines().any(|line| line.trim() == "exit code 143"), "{shown}");
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}

#[test]
fn manage_shell_without_a_terminal_never_waits_for_input_even_with_stdin_left_open() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("manage-no-terminal");
    // As in CI: stdin a pipe that nobody writes to or closes.
    let mut child = copy
        .xtask(&["manage", "--", "shell"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _open = child.stdin.take();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > A_RUN_ENDS_WITHIN {
            let _ = child.kill();
            panic!("`manage -- shell` without a terminal waited for input");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}");
}

/// A test of the copy's `todo.tests` that stops at a `breakpoint()`: `todo.tests.Debugged`.
fn add_a_test_with_a_breakpoint(copy: &Checkout) {
    copy.edit("src/todo/tests.py", |tests| {
        format!(
            "{tests}\n\nclass Debugged(APITestCase):\n    def test_stops_at_a_breakpoint(self):\n        \
             answer = 6 * 7\n        breakpoint()\n        self.assertEqual(answer, 42)\n"
        )
    });
}

#[test]
fn a_breakpoint_in_a_test_on_a_terminal_stops_in_pdb_and_continuing_finishes_the_run() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-pdb", "test") else {
        return;
    };
    // The developer's loop: the suite forked by the warm worker (CI would bake the source)
    let copy = Checkout::copy("test-pdb").env("CI", "false");
    add_a_test_with_a_breakpoint(&copy);
    // The run, then its exit code and whether the terminal is back in cooked mode.
    let script = "CI=false \"$XTASK\" test -- todo.tests.Debugged; echo \"EXIT=$?\"; \
                  stty -a | tr ' ' '\\n' | grep -x -- '-\\{0,1\\}icanon'; sleep 600";
    tmux.start("pdb", &copy, script);
    tmux.wait_for("pdb", |line| line.starts_with("(Pdb)"), A_RUN_ENDS_WITHIN);
    let keys = |keys: &str| tmux.keys("pdb", &[keys, "Enter"]);
    keys("p answer");
    tmux.wait_for("pdb", |line| line.trim() == "42", Duration::from_secs(20));
    keys("p 7*6+1");
    tmux.wait_for("pdb", |line| line.trim() == "43", Duration::from_secs(20));
    keys("c");
    let shown = tmux.wait_for("pdb", |line| line.trim().ends_with("icanon"), Duration::from_secs(120));
    assert!(shown.lines().any(|line| line.trim() == "EXIT=0"), "{shown}");
    assert!(shown.contains("docker exec --interactive --tty"), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("Ran 1 test")), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("=> Took ")), "{shown}");
    assert!(
        shown.contains("=> Reports (junit.xml, coverage.xml) are in target/reports/"),
        "{shown}"
    );
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    assert_the_reports_count_the_tests_that_ran(&copy, 1);
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}

#[test]
fn a_breakpoint_in_a_test_without_a_terminal_reads_end_of_file_and_the_run_ends() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("test-pdb-no-terminal");
    add_a_test_with_a_breakpoint(&copy);
    // stdin null: pdb gets no terminal and no input, so it quits the test rather than waits.
    let finished = run_to_end(copy.xtask(&["test", "--", "todo.tests.Debugged"]), A_RUN_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(!out.contains("--interactive") && !out.contains("--tty"), "{out}");
    assert!(out.lines().any(|line| line.starts_with("Ran 1 test")), "{out}");
    assert!(out.contains("BdbQuit"), "{out}");
    assert!(out.contains("The test run failed with exit code 1"), "{out}");
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{out}");
}

#[test]
fn ctrl_c_during_a_test_run_on_a_terminal_stops_the_suite_and_the_run_cleans_up() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-e2e-ctrl-c", "test") else {
        return;
    };
    let copy = Checkout::copy("test-ctrl-c-terminal").env("CI", "false");
    copy.edit("src/todo/tests.py", |tests| {
        format!(
            "{tests}\n\nclass Slow(APITestCase):\n    def test_sleeps(self):\n        \
             import time\n        print('sleeping', flush=True)\n        time.sleep(600)\n"
        )
    });
    let script = "CI=false \"$XTASK\" test -- todo.tests.Slow; echo \"EXIT=$?\"; \
                  stty -a | tr ' ' '\\n' | grep -x -- '-\\{0,1\\}icanon'; sleep 600";
    tmux.start("slow", &copy, script);
    tmux.wait_for("slow", |line| line.trim() == "sleeping", A_RUN_ENDS_WITHIN);
    // Ctrl-C is the suite's, through the terminal, as Django has it: the first lets the
    // running test finish, the second stops the suite at once. The run then reports and
    // cleans up as after any failed run.
    for _ in 0..2 {
        tmux.keys("slow", &["C-c"]);
        std::thread::sleep(Duration::from_secs(1));
    }
    let shown = tmux.wait_for("slow", |line| line.trim().ends_with("icanon"), Duration::from_secs(60));
    assert!(shown.lines().any(|line| line.trim() == "EXIT=130"), "{shown}");
    assert!(shown.contains("The test run failed with exit code 130"), "{shown}");
    assert!(shown.lines().any(|line| line.starts_with("=> Took ")), "{shown}");
    assert!(
        shown.lines().any(|line| line.trim() == "icanon"),
        "the terminal was left in raw mode:\n{shown}"
    );
    let left = left_on_engine(&copy);
    assert!(left.is_empty(), "the run left {left:?}:\n{shown}");
}
