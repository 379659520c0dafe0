//! What the xtask prints. Never panics: a reader that went away (`| head`, a closed
//! terminal) ends the run quietly, as SIGPIPE would, instead of aborting it mid-cleanup.

use std::fmt;
use std::io::{ErrorKind, IsTerminal, Write};

use crate::signals;

/// A line on stderr: steps, echoed commands, warnings.
macro_rules! say {
    ($($arg:tt)*) => { $crate::console::line(false, format_args!($($arg)*)) };
}

/// A line on stdout: what a task reports (doctor's checks, the bench's table, help).
macro_rules! show {
    ($($arg:tt)*) => { $crate::console::line(true, format_args!($($arg)*)) };
}

pub(crate) use {say, show};

pub fn line(stdout: bool, text: fmt::Arguments) {
    // One write of the whole line: `writeln!` would write each piece as it is formatted, and a
    // container streaming to the same terminal or pipe meanwhile could land inside the line.
    let line = format!("{text}\n");
    let written = if stdout {
        std::io::stdout().lock().write_all(line.as_bytes())
    } else {
        std::io::stderr().lock().write_all(line.as_bytes())
    };
    if let Err(err) = written
        && err.kind() == ErrorKind::BrokenPipe
    {
        signals::broken_pipe();
    }
}

/// Colour for people at a terminal, and never with NO_COLOR (https://no-color.org).
pub fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// `text` in the SGR style `code`, where colour is wanted.
pub fn paint(code: &str, text: &str) -> String {
    if color() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}
