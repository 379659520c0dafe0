//! A test's turn on the engine: shared with the other tests of its binary, or alone for one that
//! acts on the whole project. The first test to ask warms the engine up while the others wait.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::checkout::Checkout;
use super::engine::engine_answers;
use super::layers::remove_layers_of_processes_gone;
use super::run::run_to_end;

/// Most tests share the engine with the others of this file; one that acts on the whole
/// project (`clean --all`) takes it alone, so it cannot pull images or the pip cache from
/// under a parallel test's run.
static ENGINE: RwLock<()> = RwLock::new(());

/// A test's turn on the engine: held for as long as the test uses it.
pub struct EngineTurn {
    _shared: Option<RwLockReadGuard<'static, ()>>,
    _alone: Option<RwLockWriteGuard<'static, ()>>,
}

/// The engine, shared with the other tests of this file; `None` (SKIPPED said) without one.
/// The first test to ask warms it up (see `warm_up`) while the others wait.
pub fn engine() -> Option<EngineTurn> {
    engine_answers().then(|| {
        warm_up();
        EngineTurn {
            _shared: Some(ENGINE.read().unwrap_or_else(|poisoned| poisoned.into_inner())),
            _alone: None,
        }
    })
}

/// The engine, with no other test of this file running meanwhile.
pub fn engine_alone() -> Option<EngineTurn> {
    engine_answers().then(|| {
        warm_up();
        EngineTurn {
            _shared: None,
            _alone: Some(ENGINE.write().unwrap_or_else(|poisoned| poisoned.into_inner())),
        }
    })
}

/// Before the first test of this process uses the engine, one copy runs the suite with the
/// database, alone: the OS image (made from Debian packages where no registry answers), the
/// dev image and the database image are built once, not by two tests at once, and their layers
/// are kept for the copies that follow. Fails every test with the reason when that run fails.
fn warm_up() {
    static WARM: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let warm = WARM.get_or_init(|| {
        remove_layers_of_processes_gone();
        let copy = Checkout::copy("warm-up");
        let finished = run_to_end(copy.xtask(&["test", "--settings", "test"]), Duration::from_secs(900));
        if finished.code() == Some(0) {
            Ok(())
        } else {
            Err(format!(
                "the first run on the engine, `cargo xtask test --settings test` in {}, failed: {}\n{}",
                copy.root().display(),
                finished.how(),
                finished.output()
            ))
        }
    });
    if let Err(failed) = warm {
        panic!("{failed}");
    }
}
