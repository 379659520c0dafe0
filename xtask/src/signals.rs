//! Ctrl-C and SIGTERM become a flag the runner polls, so a run stops its child, removes
//! what it made and exits 128 + the signal, instead of dying with containers left running.
//! (Plain FFI to the C library std already links: no crate for two signals.)

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn record(signum: i32) {
    RECEIVED.store(signum, Ordering::SeqCst);
}

/// From here on SIGINT and SIGTERM are recorded, not fatal. Children get the default
/// dispositions back when they exec.
pub fn install() {
    for signum in [SIGINT, SIGTERM] {
        // SAFETY: `record` only stores to an atomic, which is async-signal-safe.
        unsafe {
            signal(signum, record);
        }
    }
}

/// The run was stopped by a signal; the process exits 128 + the signal, as a shell reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(1)
    }
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            SIGINT => "SIGINT (Ctrl-C)",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}")
    }
}

impl std::error::Error for Interrupted {}

/// Fails with `Interrupted` once a signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => Ok(()),
        signum => Err(Interrupted(signum)),
    }
}
