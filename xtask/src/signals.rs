//! Ctrl-C, SIGTERM and SIGHUP (terminal closed) become a flag the runner polls, so a run
//! stops its child, removes what it made and exits 128 + the signal, instead of dying with
//! containers left running. A reader gone away (EPIPE on output) counts as SIGPIPE. What
//! no handler can catch (SIGKILL, the host going down) is the watchdog's job (`session`).
//! (Plain FFI to the C library std already links: no crate for a few signals.)

use std::fmt;
use std::sync::atomic::{AtomicI32, Ordering};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGPIPE: i32 = 13;
pub const SIGTERM: i32 = 15;
const SIG_IGN: usize = 1;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn kill(pid: i32, signum: i32) -> i32;
}

extern "C" fn record(signum: i32) {
    // The first signal is the one the run reports; later presses change nothing.
    let _ = RECEIVED.compare_exchange(0, signum, Ordering::SeqCst, Ordering::SeqCst);
}

/// From here on SIGINT, SIGTERM and SIGHUP are recorded, not fatal. Children get the default
/// dispositions back when they exec.
pub fn install() {
    for signum in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: `record` only touches an atomic, which is async-signal-safe.
        unsafe {
            signal(signum, record as extern "C" fn(i32) as usize);
        }
    }
}

extern "C" fn nothing(_signum: i32) {}

/// While it lives, SIGINT does nothing to the xtask: an `interactive` child on the terminal
/// gets Ctrl-C instead. A handler rather than SIG_IGN, which a child would inherit: exec
/// resets a handled signal to its default, so the child can still be interrupted.
pub struct CtrlCToTheChild(());

pub fn leave_ctrl_c_to_the_child() -> CtrlCToTheChild {
    // SAFETY: `nothing` does nothing, which is async-signal-safe.
    unsafe {
        signal(SIGINT, nothing as extern "C" fn(i32) as usize);
    }
    CtrlCToTheChild(())
}

impl Drop for CtrlCToTheChild {
    fn drop(&mut self) {
        // SAFETY: as in `install`.
        unsafe {
            signal(SIGINT, record as extern "C" fn(i32) as usize);
        }
    }
}

/// For the watchdog: the terminal's signals are not for it, nor its own group's SIGTERM.
pub fn ignore_all() {
    for signum in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: setting a disposition to SIG_IGN has no preconditions.
        unsafe {
            signal(signum, SIG_IGN);
        }
    }
}

/// Sends `signum` to every process of the process group `pgid`.
pub fn kill_group(pgid: u32, signum: i32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid addresses a process group; no memory involved.
        unsafe {
            kill(-pgid, signum);
        }
    }
}

/// Asks the process `pid` to end (SIGTERM).
pub fn terminate(pid: u32) {
    send(pid, SIGTERM);
}

/// Asks the process `pid` to end as on Ctrl-C (SIGINT).
pub fn interrupt(pid: u32) {
    send(pid, SIGINT);
}

fn send(pid: u32, signum: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on one process; no memory involved.
        unsafe {
            kill(pid, signum);
        }
    }
}

/// Output could not be written: whoever read it is gone.
pub fn broken_pipe() {
    record(SIGPIPE);
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
            SIGHUP => "SIGHUP (the terminal closed)",
            SIGPIPE => "a closed output pipe",
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
