//! The names of what the bench makes: its copy of the checkout and the lab's flow, never the
//! user's.

pub const FIXTURE: &str = "xtask/bench/lab";
/// The copy of the checkout both flows work on, and the prefix of what it makes.
pub const COPY: &str = "target/bench";
pub const COPY_NAME: &str = "todobackend-bench";
/// The copy's own OS image, which the first run from nothing removes: never the user's.
pub const COPY_OS_IMAGE: &str = "todobackend-bench-os:bookworm";
/// How many times larger the scaled suite is than the checkout's: SCALE - 1 copies of each
/// test class of `src/*/tests.py` beside the originals.
pub const SCALE: usize = 50;
/// Where it is generated, in the copy: a test module Django's discovery finds.
pub const SCALED_MODULE: &str = "src/todo/tests_scaled.py";
/// What a checkout holds for the xtask to work on.
pub const CHECKOUT: &[&str] = &["Cargo.toml", ".dockerignore", "docker", "scripts", "src", "acceptance"];
/// The lab's build context, in the copy: its files laid out as the lab had them, with src/.
pub const LAB_CONTEXT: &str = "target/bench-lab";
pub const LAB_BASE: &str = "todobackend-bench-lab-base";
pub const LAB_DEV: &str = "todobackend-bench-lab-dev";
/// The lab's volume container, and its volume.
pub const LAB_CACHE: &str = "todobackend-bench-lab-cache";
/// The file a round edits (a comment appended), in both flows' copies.
pub const EDITED: &str = "src/todo/__init__.py";
pub const FLOOR: &str = "todobackend-bench-floor";
/// Where the xtask is built from nothing, to time that.
pub const SCRATCH_TARGET: &str = "target/bench-xtask-build";
