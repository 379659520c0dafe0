//! A day in Docker as a new user lives it (issue 26), end to end on the real engine: `clean`
//! keeps what was entered unless told, `manage` works on the data `serve` keeps, and a
//! checkout's warm worker ends with the checkout. Each scenario on its own copy of the
//! checkout (`support::Checkout`), on a port of its own.

mod support;

use std::time::Duration;

use support::{Checkout, DATABASE_READY_WITHIN, Finished, Running, SIGINT, free_port, http, run_to_end, signal_process};

const A_TASK_ENDS_WITHIN: Duration = Duration::from_secs(240);

/// `serve` of `copy` with `args` on `port`, once it says where it serves.
fn serve(copy: &Checkout, port: u16, args: &[&str]) -> Running {
    let port = port.to_string();
    let mut args = args.to_vec();
    args.extend(["--port", &port]);
    let mut serving = Running::start(copy.xtask(&[&["serve"][..], &args].concat()));
    serving.wait_for_line(
        &format!("=> Serving at http://127.0.0.1:{port}/todos"),
        DATABASE_READY_WITHIN,
    );
    serving
}

/// Ctrl-C to a serve: it ends as interrupted.
fn ctrl_c(serving: Running) -> Finished {
    signal_process(serving.pid(), SIGINT);
    let finished = serving.finish(Duration::from_secs(30));
    assert_eq!(finished.code(), Some(130), "{}:\n{}", finished.how(), finished.output());
    finished
}

/// Runs the xtask in `copy` with `args`; asserts it exits 0. All it printed.
fn xtask_ok(copy: &Checkout, args: &[&str]) -> String {
    let finished = run_to_end(copy.xtask(args), A_TASK_ENDS_WITHIN);
    let out = finished.output();
    assert_eq!(finished.code(), Some(0), "`xtask {}`: {}:\n{out}", args.join(" "), finished.how());
    out
}

/// The copy's volumes of kept data, by name.
fn kept_volumes(copy: &Checkout) -> Vec<String> {
    let label = format!("label={}", copy.label());
    let filters = ["--filter", &label, "--filter", "label=todobackend.data"];
    copy.docker_lines(&[&["volume", "ls"][..], &filters, &["--format", "{{.Name}}"]].concat())
        .unwrap()
}

/// POSTs a todo with `title` to the server on `port`.
fn post(port: u16, title: &str) {
    let (status, _, created) = http(port, "POST", "/todos", Some(&format!(r#"{{"title":"{title}"}}"#)));
    assert_eq!(status, 201, "{created}");
}

/// Whether the server on `port` lists a todo with `title`.
fn lists(port: u16, title: &str) -> bool {
    let (status, _, listed) = http(port, "GET", "/todos", None);
    assert_eq!(status, 200, "{listed}");
    listed.contains(title)
}

// ---------------------------------------------------------------------------------------
// clean keeps what the user entered

#[test]
fn plain_clean_keeps_what_serve_kept_says_so_and_clean_data_removes_it() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("day clean keeps");
    let port = free_port();
    let serving = serve(&copy, port, &[]);
    post(port, "entered before clean");
    ctrl_c(serving);

    let out = xtask_ok(&copy, &["clean"]);
    let kept = kept_volumes(&copy);
    assert!(kept.len() == 1 && kept[0].ends_with("-base-data"), "{kept:?}\n{out}");
    assert!(
        out.contains(&format!("Kept the data `serve` kept ({})", kept[0])) && out.contains("clean --data"),
        "{out}"
    );
    let serving = serve(&copy, port, &[]);
    assert!(lists(port, "entered before clean"), "the data did not outlive clean");
    ctrl_c(serving);

    let out = xtask_ok(&copy, &["clean", "--data"]);
    assert!(kept_volumes(&copy).is_empty(), "{:?}\n{out}", kept_volumes(&copy));
    assert!(out.contains("Removing the data kept by `serve`"), "{out}");
}
