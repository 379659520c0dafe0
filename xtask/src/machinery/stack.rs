//! The stack `deploy` puts on a swarm, as a value, and the compose file it is written as
//! (`target/deploy/STACK.yml`: a user reads it, or runs `docker stack deploy` with it by hand).
//!
//! Three kinds of service, each shaped by what the swarm here can and cannot do (no IPVS on
//! some kernels, so no virtual IPs and no routing mesh):
//! - the app: N replicas, found by DNS (`endpoint_mode: dnsrr`), healthy once `/health`
//!   answers, updated one at a time, the new task before the old one goes, rolled back by the
//!   swarm itself when the new one does not become healthy;
//! - each stateful service (the database): one task, on the node labelled for it, its data in
//!   a volume there;
//! - the edge: one HAProxy per node, publishing the HTTP port on the node itself (`mode:
//!   host`), sending requests to the app's healthy tasks.
//!
//! Secrets are swarm secrets mounted as files; a container is told where (`NAME_FILE`),
//! never what. The file holds no secret.

/// The settings a deployment runs with, whose services it runs beside the app.
pub const RELEASE_SETTINGS: &str = "release";
/// The app's and the edge's names in the stack, and the edge's Dockerfile.
pub const APP: &str = "app";
pub const EDGE: &str = "edge";
pub const EDGE_DOCKERFILE: &str = "docker/edge/Dockerfile";

/// Run inside the app's container (no curl there): succeeds once `/health` answers 200, that
/// is once the app serves and its database answers. `release` proves its app healthy with it,
/// and the stack's app tasks are healthy by it, every 2 s: bash's /dev/tcp costs 3 ms of CPU,
/// where Python (an interpreter, urllib's imports) cost 95 beside the requests served.
pub const APP_HEALTHY: &str = "bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000 && \
                               printf \"GET /health HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n\" >&3 && \
                               read -r -t 2 _ status _ <&3 && [ \"$status\" = 200 ]'";

/// The edge's health check (docker/edge/ready.sh): it has an app task to send requests to.
pub const EDGE_READY: &str = "edge-ready";

/// A service of the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub image: String,
    pub env: Vec<(String, String)>,
    /// `(swarm secret, file under /run/secrets)`.
    pub secrets: Vec<(String, String)>,
    /// Run by `sh -c` in the container; healthy once it succeeds.
    pub health: Option<Health>,
    pub mode: Mode,
    /// `(volume, path)`: a named volume of the stack.
    pub volumes: Vec<(String, String)>,
    /// `node.labels.KEY == true`: where the service may run.
    pub pinned_to: Option<String>,
    /// `(published, target)`: a port of each node the service runs on.
    pub ports: Vec<(u16, u16)>,
    pub labels: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub test: String,
    /// How long a task may take to become healthy, its failed checks not counted.
    pub start_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// N tasks rolled one at a time, new before old, rolled back when not healthy.
    Rolling(u32),
    /// One task, stopped before its replacement starts (its data is not shared).
    Single,
    /// One task per node, stopped before its replacement (the node's port is its).
    PerNode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub services: Vec<Service>,
}

impl Stack {
    /// The secrets the services mount: made before the stack is deployed (`external`).
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets: Vec<&str> = Vec::new();
        for (secret, _) in self.services.iter().flat_map(|service| &service.secrets) {
            if !secrets.contains(&secret.as_str()) {
                secrets.push(secret);
            }
        }
        secrets
    }

    /// The stack as a compose file (version 3.8, what `docker stack deploy` reads). Every
    /// string is a double-quoted YAML scalar: nothing in a value can change its meaning.
    pub fn compose(&self) -> String {
        let mut out = String::from(
            "# Written by `cargo xtask deploy`: it deploys this file with\n\
             #   docker stack deploy --with-registry-auth --prune --compose-file FILE STACK\n\
             # after making the secrets it names and running the migrations.\n\
             version: \"3.8\"\n\nservices:\n",
        );
        for service in &self.services {
            service.compose(&mut out);
        }
        out.push_str("\nnetworks:\n  default:\n    driver: overlay\n    attachable: true\n");
        let volumes: Vec<&str> = self
            .services
            .iter()
            .flat_map(|service| service.volumes.iter().map(|(volume, _)| volume.as_str()))
            .collect();
        if !volumes.is_empty() {
            out.push_str("\nvolumes:\n");
            for volume in volumes {
                out.push_str(&format!("  {}: {{}}\n", quoted(volume)));
            }
        }
        let secrets = self.secrets();
        if !secrets.is_empty() {
            out.push_str("\nsecrets:\n");
            for secret in secrets {
                out.push_str(&format!("  {}:\n    external: true\n", quoted(secret)));
            }
        }
        out
    }

    /// The stack with only the services `keep` names: deployed first, without pruning, so
    /// the database runs before the migrations and the app's update.
    pub fn only(&self, keep: impl Fn(&Service) -> bool) -> Stack {
        Stack {
            name: self.name.clone(),
            services: self.services.iter().filter(|service| keep(service)).cloned().collect(),
        }
    }
}

impl Service {
    fn compose(&self, out: &mut String) {
        let mut line = |indent: usize, text: &str| {
            out.push_str(&" ".repeat(indent));
            out.push_str(text);
            out.push('\n');
        };
        line(2, &format!("{}:", quoted(&self.name)));
        line(4, &format!("image: {}", quoted(&self.image)));
        if !self.env.is_empty() {
            line(4, "environment:");
            for (key, value) in &self.env {
                line(6, &format!("{}: {}", quoted(key), quoted(value)));
            }
        }
        if !self.secrets.is_empty() {
            line(4, "secrets:");
            for (secret, file) in &self.secrets {
                line(6, &format!("- source: {}", quoted(secret)));
                line(8, &format!("target: {}", quoted(file)));
            }
        }
        if !self.volumes.is_empty() {
            line(4, "volumes:");
            for (volume, path) in &self.volumes {
                line(6, &format!("- {}", quoted(&format!("{volume}:{path}"))));
            }
        }
        if !self.ports.is_empty() {
            line(4, "ports:");
            for (published, target) in &self.ports {
                line(6, &format!("- target: {target}"));
                line(8, &format!("published: {published}"));
                line(8, "protocol: tcp");
                line(8, "mode: host");
            }
        }
        if let Some(health) = &self.health {
            line(4, "healthcheck:");
            line(6, &format!("test: [\"CMD-SHELL\", {}]", quoted(&health.test)));
            line(6, "interval: 2s");
            line(6, "timeout: 2s");
            line(6, "retries: 3");
            line(6, &format!("start_period: {}s", health.start_secs));
        }
        // Within docker stop's time: gunicorn lets requests in flight end in 5 s.
        line(4, "stop_grace_period: 10s");
        line(4, "deploy:");
        match self.mode {
            Mode::Rolling(replicas) => {
                line(6, "mode: replicated");
                line(6, &format!("replicas: {replicas}"));
            }
            Mode::Single => {
                line(6, "mode: replicated");
                line(6, "replicas: 1");
            }
            Mode::PerNode => line(6, "mode: global"),
        }
        // Names resolve to the tasks themselves: a virtual IP needs IPVS in the kernel.
        line(6, "endpoint_mode: dnsrr");
        if !self.labels.is_empty() {
            line(6, "labels:");
            for (key, value) in &self.labels {
                line(8, &format!("{}: {}", quoted(key), quoted(value)));
            }
        }
        if let Some(label) = &self.pinned_to {
            line(6, "placement:");
            line(8, "constraints:");
            line(10, &format!("- {}", quoted(&format!("node.labels.{label} == true"))));
        } else if let Mode::Rolling(_) = self.mode {
            line(6, "placement:");
            line(8, "preferences:");
            line(10, "- spread: node.id");
        }
        line(6, "restart_policy:");
        line(8, "condition: any");
        line(8, "delay: 1s");
        let order = match self.mode {
            Mode::Rolling(_) => "start-first",
            Mode::Single | Mode::PerNode => "stop-first",
        };
        for (key, on_failure) in [("update_config", "rollback"), ("rollback_config", "pause")] {
            line(6, &format!("{key}:"));
            line(8, "parallelism: 1");
            line(8, &format!("order: {order}"));
            line(8, &format!("failure_action: {on_failure}"));
            // A task that stays healthy this long after its update counts as updated.
            line(8, "monitor: 10s");
            line(8, "max_failure_ratio: 0");
        }
    }
}

/// `text` as a double-quoted YAML scalar (YAML's double quotes take JSON's escapes), with
/// `$` doubled: `docker stack deploy` would otherwise fill `$VAR` from the client's
/// environment, where a health check means the container's.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '$' => out.push_str("$$"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Service {
        Service {
            name: "app".into(),
            image: "127.0.0.1:5000/todobackend@sha256:ab".into(),
            env: vec![("MYSQL_PASSWORD_FILE".into(), "/run/secrets/MYSQL_PASSWORD".into())],
            secrets: vec![("todobackend_mysql_password".into(), "MYSQL_PASSWORD".into())],
            health: Some(Health {
                test: "check \"/health\"".into(),
                start_secs: 20,
            }),
            mode: Mode::Rolling(3),
            volumes: vec![],
            pinned_to: None,
            ports: vec![],
            labels: vec![("todobackend.version".into(), "v1".into())],
        }
    }

    #[test]
    fn the_app_rolls_new_before_old_and_rolls_back_by_itself_on_a_failed_health_check() {
        let stack = Stack {
            name: "todobackend".into(),
            services: vec![app()],
        };
        let file = stack.compose();
        for expected in [
            "  \"app\":\n    image: \"127.0.0.1:5000/todobackend@sha256:ab\"\n",
            "      \"MYSQL_PASSWORD_FILE\": \"/run/secrets/MYSQL_PASSWORD\"\n",
            "      - source: \"todobackend_mysql_password\"\n        target: \"MYSQL_PASSWORD\"\n",
            "      test: [\"CMD-SHELL\", \"check \\\"/health\\\"\"]\n",
            "      replicas: 3\n      endpoint_mode: dnsrr\n",
            "      update_config:\n        parallelism: 1\n        order: start-first\n        failure_action: rollback\n",
            "      - spread: node.id\n",
            "secrets:\n  \"todobackend_mysql_password\":\n    external: true\n",
        ] {
            assert!(file.contains(expected), "{expected:?} not in\n{file}");
        }
    }

    #[test]
    fn a_stateful_service_stays_on_its_labelled_node_with_its_volume_and_the_edge_on_each_node_s_port() {
        let db = Service {
            name: "db".into(),
            mode: Mode::Single,
            volumes: vec![("db-data".into(), "/var/lib/mysql".into())],
            pinned_to: Some("todobackend.db".into()),
            ..app()
        };
        let edge = Service {
            name: "edge".into(),
            mode: Mode::PerNode,
            ports: vec![(8080, 8080)],
            ..app()
        };
        let file = Stack {
            name: "s".into(),
            services: vec![db, edge],
        }
        .compose();
        for expected in [
            "      - \"db-data:/var/lib/mysql\"\n",
            "      - \"node.labels.todobackend.db == true\"\n",
            "volumes:\n  \"db-data\": {}\n",
            "      - target: 8080\n        published: 8080\n        protocol: tcp\n        mode: host\n",
            "      mode: global\n",
            "        order: stop-first\n",
        ] {
            assert!(file.contains(expected), "{expected:?} not in\n{file}");
        }
        assert!(!file.contains("start-first"), "{file}");
    }

    #[test]
    fn a_value_cannot_break_out_of_its_string() {
        assert_eq!(quoted("a\"b\\c\nd: e"), "\"a\\\"b\\\\c\\nd: e\"");
        // The container's variable, not the deploying client's
        assert_eq!(quoted("-u \"$USER\""), "\"-u \\\"$$USER\\\"\"");
    }
}
