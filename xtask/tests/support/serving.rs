//! `cargo xtask serve` as a developer runs it: started, used once it says where it serves,
//! stopped with Ctrl-C.

use std::time::Duration;

use super::checkout::Checkout;
use super::run::{DATABASE_READY_WITHIN, Finished, Running};
use super::signals::{SIGINT, signal_process};

/// `serve` of `copy` with `args` on `port`, once it says where it serves.
pub fn serve(copy: &Checkout, port: u16, args: &[&str]) -> Running {
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
pub fn ctrl_c(serving: Running) -> Finished {
    signal_process(serving.pid(), SIGINT);
    let finished = serving.finish(Duration::from_secs(30));
    assert_eq!(finished.code(), Some(130), "{}:\n{}", finished.how(), finished.output());
    finished
}
