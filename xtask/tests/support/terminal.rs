//! A real terminal: a tmux server of the test's own, which it types into and reads.

use std::process::Command;
use std::time::{Duration, Instant};

use super::checkout::Checkout;
use super::engine::here;

/// A tmux server of the test's own, killed when dropped: a terminal a test types into and
/// reads, as a person at it would.
pub struct Tmux(String);

impl Tmux {
    /// A server named `<name>-<pid>` for a test that runs `task` on a terminal; `None` (SKIPPED
    /// said, or failing under CI=true) without tmux.
    pub fn here(name: &str, task: &str) -> Option<Tmux> {
        let tmux = Command::new("tmux").arg("-V").output();
        here(
            tmux.is_ok_and(|output| output.status.success()),
            &format!("no tmux (`apt-get install tmux`) to give `{task}` a terminal"),
        )
        .then(|| Tmux(format!("{name}-{}", std::process::id())))
    }

    /// Runs `script` in a new session `session` of its own, on a terminal of 200 by 50, in
    /// `copy`'s root with its environment, `NO_COLOR=1` and `$XTASK` the built xtask: paths
    /// reach the script as variables, never spliced into it, whatever characters they hold.
    pub fn start(&self, session: &str, copy: &Checkout, script: &str) {
        let mut env = vec![
            (
                "CARGO_MANIFEST_DIR".to_string(),
                copy.root().join("xtask").display().to_string(),
            ),
            ("NO_COLOR".into(), "1".into()),
            ("XTASK".into(), env!("CARGO_BIN_EXE_xtask").into()),
        ];
        env.extend(copy.env.iter().cloned());
        let started = Command::new("tmux")
            .args([
                "-L",
                &self.0,
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "200",
                "-y",
                "50",
                "-c",
            ])
            .arg(copy.root())
            .args(
                env.iter()
                    .flat_map(|(key, value)| ["-e".to_string(), format!("{key}={value}")]),
            )
            .arg(script)
            .env_remove("TMUX")
            .status()
            .unwrap();
        assert!(started.success());
    }

    /// Types `keys` (tmux's names: `Enter`, `C-c`) into `session`.
    pub fn keys(&self, session: &str, keys: &[&str]) {
        let sent = Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-t", session])
            .args(keys)
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// What `session` shows, its last 200 lines of history included.
    pub fn pane(&self, session: &str) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.0, "capture-pane", "-p", "-J", "-S", "-200", "-t", session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits until `session` shows a line `matches` accepts; all it shows.
    pub fn wait_for(&self, session: &str, matches: impl Fn(&str) -> bool, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let shown = self.pane(session);
            if shown.lines().any(&matches) {
                return shown;
            }
            assert!(started.elapsed() < within, "not seen within {within:?}:\n{shown}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).output();
    }
}
