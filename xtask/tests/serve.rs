//! `cargo xtask serve` end to end, as a developer uses it: a real engine, the real development
//! server, requests over HTTP from this machine, an edit on the host, Ctrl-C. Each scenario on
//! its own copy of the checkout (`support::Checkout`), on a port of its own.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::{
    Checkout, DATABASE_READY_WITHIN, Tmux, ctrl_c, free_port, http, left_on_engine, run_to_end, serve, try_http,
};

/// The copy's volumes, by name.
fn volumes(copy: &Checkout) -> Vec<String> {
    let label = format!("label={}", copy.label());
    copy.docker_lines(&["volume", "ls", "--filter", &label, "--format", "{{.Name}}"])
        .unwrap()
}

#[test]
fn serve_answers_keeps_a_post_shows_an_edit_and_ctrl_c_leaves_only_the_data_volume() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("serve");
    let port = free_port();
    let serving = serve(&copy, port, &[]);

    let (status, _, body) = http(port, "GET", "/todos", None);
    assert_eq!((status, body.as_str()), (200, "[]"));
    let (status, _, created) = http(port, "POST", "/todos", Some(r#"{"title":"walk the dog","order":2}"#));
    assert_eq!(status, 201, "{created}");
    assert!(
        created.contains(&format!(r#""url":"http://127.0.0.1:{port}/todos/"#)) && created.contains(r#""order":2"#),
        "{created}"
    );
    let (status, _, listed) = http(port, "GET", "/todos", None);
    assert_eq!(status, 200);
    assert!(listed.contains("walk the dog"), "{listed}");

    // Django's autoreloader takes a module's first mtime at its next tick (every second)
    // after the module is imported, and an edit made before that tick is never seen: the
    // views were imported by the server's checks moments ago. A developer's edit comes later.
    std::thread::sleep(Duration::from_secs(3));
    copy.edit("src/todo/views.py", |views| {
        views.replace(
            "    def destroy_all(",
            "    def list(self, request, *args, **kwargs):\n        \
             response = super().list(request, *args, **kwargs)\n        \
             response['X-Edited'] = 'on the host'\n        \
             return response\n\n    def destroy_all(",
        )
    });
    let edited = Instant::now();
    let shown = loop {
        if let Some((200, head, _)) = try_http(port, "GET", "/todos", None)
            && head.contains("X-Edited: on the host")
        {
            break edited.elapsed();
        }
        assert!(
            edited.elapsed() < Duration::from_secs(20),
            "the edit of views.py never showed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("the edit showed {:.2} s after it was saved", shown.as_secs_f64());

    let finished = ctrl_c(serving);
    assert!(
        left_on_engine(&copy).is_empty(),
        "{:?}\n{}",
        left_on_engine(&copy),
        finished.output()
    );
    let kept = volumes(&copy);
    assert!(
        kept.len() == 1 && kept[0].ends_with("-base-data"),
        "not the data volume alone: {kept:?}"
    );
}

#[test]
fn a_second_serve_on_the_database_sees_what_the_first_was_given() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("serve again");
    let port = free_port();
    let first = serve(&copy, port, &["--settings", "test"]);
    let (status, _, created) = http(port, "POST", "/todos", Some(r#"{"title":"kept between runs"}"#));
    assert_eq!(status, 201, "{created}");
    ctrl_c(first);
    let kept = volumes(&copy);
    assert!(kept.len() == 1 && kept[0].ends_with("-test-db"), "{kept:?}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}", left_on_engine(&copy));

    let second = serve(&copy, port, &["--settings", "test"]);
    let (status, _, listed) = http(port, "GET", "/todos", None);
    assert_eq!(status, 200);
    assert!(listed.contains("kept between runs"), "{listed}");
    ctrl_c(second);

    let cleaned = run_to_end(copy.xtask(&["clean", "--data"]), Duration::from_secs(60));
    assert_eq!(cleaned.code(), Some(0), "{}", cleaned.output());
    assert!(volumes(&copy).is_empty(), "{:?}\n{}", volumes(&copy), cleaned.output());
}

#[test]
fn a_port_in_use_is_refused_by_name_before_anything_starts() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("busy port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let finished = run_to_end(copy.xtask(&["serve", "--port", &port]), Duration::from_secs(60));
    let out = finished.output();
    assert_eq!(finished.code(), Some(1), "{}:\n{out}", finished.how());
    assert!(
        out.contains(&format!("port {port} is in use on 127.0.0.1")) && out.contains("--port N"),
        "{out}"
    );
    assert!(!out.contains("$ docker"), "something started:\n{out}");
    assert!(volumes(&copy).is_empty() && left_on_engine(&copy).is_empty());
}

#[test]
fn on_a_terminal_a_breakpoint_in_a_view_stops_the_request_in_pdb_and_ctrl_c_ends_serve() {
    let Some(_engine) = support::engine() else { return };
    let Some(tmux) = Tmux::here("xtask-serve-pdb", "serve") else {
        return;
    };
    let copy = Checkout::copy("serve pdb");
    copy.edit("src/todo/views.py", |views| {
        views.replace(
            "    def destroy_all(",
            "    def list(self, request, *args, **kwargs):\n        \
             breakpoint()\n        \
             return super().list(request, *args, **kwargs)\n\n    def destroy_all(",
        )
    });
    let port = free_port();
    let script = format!(r#""$XTASK" serve --port {port}; echo "exit code $?"; sleep 600"#);
    tmux.start("serve", &copy, &script);
    // Announced once it answers: the question it asks runs no view, so no breakpoint stops it.
    tmux.wait_for("serve", |line| line.contains("=> Serving at "), DATABASE_READY_WITHIN);
    let request = std::thread::spawn(move || http(port, "GET", "/todos", None));
    tmux.wait_for("serve", |line| line.starts_with("(Pdb)"), Duration::from_secs(30));
    tmux.keys("serve", &["p request.method", "Enter"]);
    tmux.wait_for("serve", |line| line.trim() == "'GET'", Duration::from_secs(20));
    tmux.keys("serve", &["c", "Enter"]);
    let (status, _, body) = request.join().unwrap();
    assert_eq!((status, body.as_str()), (200, "[]"));
    // Ctrl-C is the server's, through the terminal: it stops, and the run cleans up.
    tmux.keys("serve", &["C-c"]);
    let shown = tmux.wait_for("serve", |line| line.starts_with("exit code "), Duration::from_secs(30));
    assert!(shown.contains("docker start --attach --interactive"), "{shown}");
    assert!(left_on_engine(&copy).is_empty(), "{:?}\n{shown}", left_on_engine(&copy));
}
