//! An engine that accepts connections and never answers, and a docker context that does not
//! exist: each said for what it is, within seconds.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::{Checkout, run_to_end};

/// An "engine" that accepts connections and never answers: a daemon that hangs, a port
/// forward to nowhere. Held connections stay open until the value is dropped.
struct SilentEngine {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentEngine {
    fn start() -> SilentEngine {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((connection, _)) => held.push(connection),
                    Err(err) if err.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        SilentEngine {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn host(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

impl Drop for SilentEngine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn an_engine_that_accepts_and_never_answers_is_reported_within_10_s() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("silent-engine");
    let engine = SilentEngine::start();
    let host = engine.host();

    let mut wrong = Vec::new();
    for task in ["test", "doctor"] {
        let mut xtask = copy.xtask(&[task]);
        xtask.env("DOCKER_HOST", &host).env_remove("DOCKER_CONTEXT");
        let started = Instant::now();
        let finished = run_to_end(xtask, Duration::from_secs(15));
        let took = finished.ended - started;
        let out = finished.output();
        let failed_in_time = matches!(finished.code(), Some(code) if code != 0) && took <= Duration::from_secs(10);
        if !failed_in_time || !out.contains(&host) {
            wrong.push(format!(
                "`{task}` with DOCKER_HOST={host}: {} after {took:?} (want a non-zero exit within 10 s \
                 naming {host}):\n{out}",
                finished.how()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_docker_context_that_does_not_exist_is_named_rather_than_blamed_on_the_engine() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("no-context");
    for task in ["test", "doctor"] {
        let mut xtask = copy.xtask(&[task]);
        xtask.env("DOCKER_CONTEXT", "nosuch").env_remove("DOCKER_HOST");
        let finished = run_to_end(xtask, Duration::from_secs(30));
        let out = finished.output();
        assert_eq!(finished.code(), Some(1), "`{task}`: {}:\n{out}", finished.how());
        assert!(
            out.contains("the docker client cannot start") && out.contains("context \"nosuch\""),
            "`{task}` does not say the context is the problem:\n{out}"
        );
        assert!(!out.contains("Start it"), "`{task}` tells to start an engine:\n{out}");
    }
}
