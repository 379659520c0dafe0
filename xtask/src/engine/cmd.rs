//! A command as a value: what would run, comparable in tests and printable for people.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Environment given to the process, printed before it.
    pub env: Vec<(String, String)>,
    /// Environment given to the process only: printed masked, never on its command line.
    pub secrets: Vec<(String, String)>,
    /// Written to the process's standard input, then closed; never printed (a password for
    /// `docker login --password-stdin`).
    pub input: Option<String>,
    /// A race with another client of the engine the command may lose, and run again.
    pub race: Option<&'static Race>,
}

/// How a command says it lost a race that a second run does not meet: a line of its standard
/// error holding one of `said`. It is then run again, `why` said, up to `Race::AGAIN` times.
#[derive(Debug, PartialEq, Eq)]
pub struct Race {
    pub said: &'static [&'static str],
    pub why: &'static str,
}

impl Race {
    /// Runs after the first: a race lost three times in a row is no longer luck.
    pub const AGAIN: u32 = 2;

    /// Whether `stderr` says the race was lost.
    pub fn lost(&self, stderr: &str) -> bool {
        self.said.iter().any(|said| stderr.contains(said))
    }
}

impl Cmd {
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            secrets: Vec::new(),
            input: None,
            race: None,
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// The command as a POSIX shell line that can be copied and pasted; secrets show as `***`.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.env {
            write!(f, "{key}={} ", quote(value))?;
        }
        for (key, _) in &self.secrets {
            write!(f, "{key}=*** ")?;
        }
        f.write_str(&quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_arguments_are_printed_as_they_are() {
        let cmd = Cmd::new(
            "docker",
            ["build", "-t", "todobackend-dev", "-f", "docker/dev/Dockerfile", "."],
        );
        assert_eq!(
            cmd.to_string(),
            "docker build -t todobackend-dev -f docker/dev/Dockerfile ."
        );
    }

    #[test]
    fn arguments_a_shell_would_split_or_expand_are_quoted() {
        let cmd = Cmd::new("docker", ["--format", "{{.Id}}", "it's", "", "a b"]);
        assert_eq!(cmd.to_string(), r#"docker --format '{{.Id}}' 'it'\''s' '' 'a b'"#);
    }

    #[test]
    fn environment_is_printed_before_the_program() {
        let cmd = Cmd::new("/usr/bin/x task", ["test"]).env("CARGO_MANIFEST_DIR", "/tmp/a b");
        assert_eq!(cmd.to_string(), "CARGO_MANIFEST_DIR='/tmp/a b' '/usr/bin/x task' test");
    }

    #[test]
    fn secrets_are_masked() {
        let mut cmd = Cmd::new("docker", ["run", "-e", "MYSQL_PASSWORD", "db"]);
        cmd.secrets.push(("MYSQL_PASSWORD".into(), "hunter2".into()));
        assert_eq!(cmd.to_string(), "MYSQL_PASSWORD=*** docker run -e MYSQL_PASSWORD db");
    }
}
