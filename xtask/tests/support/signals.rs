//! Signals, as `kill` and a terminal send them: to one process, or to a whole process group.

pub const SIGHUP: i32 = 1;

pub const SIGINT: i32 = 2;

pub const SIGKILL: i32 = 9;

pub const SIGTERM: i32 = 15;

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Sends `signal` to one process, as `kill -SIG pid` does.
pub fn signal_process(pid: i32, signal: i32) {
    assert!(pid > 0);
    // SAFETY: kill(2) with a positive pid touches no memory of ours.
    let sent = unsafe { kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Sends `signal` to every process of a process group, as a terminal does on Ctrl-C
/// (`kill -SIG -- -pgid`). A group whose processes have all gone is no error: a key pressed
/// again after the job ended reaches nobody.
pub fn signal_group(pgid: i32, signal: i32) {
    assert!(pgid > 1);
    // SAFETY: as above; a negative pid names the group.
    let sent = unsafe { kill(-pgid, signal) };
    let err = std::io::Error::last_os_error();
    assert!(
        sent == 0 || err.raw_os_error() == Some(3), // ESRCH: no process left in the group
        "kill(-{pgid}, {signal}) failed: {err}"
    );
}
