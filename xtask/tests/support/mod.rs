//! What the tests share: the engine check, a private copy of the checkout per test (the tests
//! never run the xtask in the checkout they belong to), the built xtask run in that copy with
//! its stderr read line by line (each line with the instant it arrived), signals to a run or to
//! its process group, and what a run left on the engine. Tests run in parallel threads on one
//! engine, so a test finds a run's containers and networks only by its copy's label
//! `todobackend.checkout=<copy>` and its images and cache by its copy's names, never by
//! engine-wide state. (Each test binary compiles this module and uses part of it.)
//!
//! - `engine`: whether an engine answers (`here`: SKIPPED, or a failure under CI=true), the
//!   docker client
//! - `turn`: a test's turn on the engine, shared or alone; the first warms it up
//! - `checkout`: the copies of the checkout, and what each leaves on the engine when dropped
//! - `layers`: the layers the copies share, so that each copy's build is cache hits
//! - `left`: what a copy's runs left on the engine
//! - `run`: a process the test started, read line by line; how it ended, what it printed
//! - `signals`: to one process or to its process group
//! - `serving`: `serve` started and stopped with Ctrl-C, as a developer does
//! - `terminal`: a real terminal (tmux)
//! - `http`: a client of the served API
#![allow(dead_code, unused_imports)]

mod checkout;
mod engine;
mod http;
mod layers;
mod left;
mod run;
mod serving;
mod signals;
mod terminal;
mod turn;

pub use checkout::{Checkout, repository};
pub use engine::{docker_lines, docker_ok, engine_answers, here};
pub use http::{free_port, http, try_http, try_http_at};
pub use left::{left_on_engine, running_containers, the_worker, wait_until_nothing_left};
pub use run::{
    A_RUN_ENDS_WITHIN, DATABASE_READY_WITHIN, Finished, Line, Running, describe, run_name, run_to_end, tests_ran,
};
pub use serving::{ctrl_c, serve};
pub use signals::{SIGHUP, SIGINT, SIGKILL, SIGTERM, signal_group, signal_process};
pub use terminal::Tmux;
pub use turn::{EngineTurn, engine, engine_alone};
