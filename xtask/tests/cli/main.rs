//! The built xtask run from several directories with a fake `docker` first on PATH that
//! records what it was asked to do: what would run, in what order, from where. Each test runs
//! it on a copy of the checkout of its own, in a directory named `Todo Backend.v2_x` (a space,
//! a dot, capitals, an underscore), so `cargo test` never touches the checkout's `target/` or
//! `src/`, and every task is seen working from such a directory.
//!
//! `fake_docker` is the fake and what it recorded, `expected` the commands the tests expect;
//! every other module is one task's story (`cargo test --test cli clean::` runs one).

#[path = "../support/mod.rs"]
mod support;

mod expected;
mod fake_docker;

mod bench;
mod cache;
mod clean;
mod database;
mod doctor;
mod images;
mod manage;
mod os_image;
mod release;
mod serve;
mod test_task;
mod usage;
