//! Docker invocations as values. Pure: nothing here talks to an engine.

use crate::cmd::Cmd;

/// The label every image and container of the project carries (as the course's Makefile did),
/// so the project can find its own.
pub const PROJECT_LABEL: (&str, &str) = ("application", "todobackend");

/// `docker build` with the repository root as the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub tag: String,
    pub dockerfile: String,
    pub build_args: Vec<(String, String)>,
}

impl Build {
    pub fn new(tag: &str, dockerfile: &str) -> Build {
        Build {
            tag: tag.into(),
            dockerfile: dockerfile.into(),
            build_args: Vec::new(),
        }
    }

    pub fn build_arg(mut self, key: &str, value: &str) -> Build {
        self.build_args.push((key.into(), value.into()));
        self
    }
}

impl From<Build> for Cmd {
    fn from(build: Build) -> Cmd {
        let mut args = vec!["build".into(), "-t".into(), build.tag, "-f".into(), build.dockerfile];
        for (key, value) in build.build_args {
            args.extend(["--build-arg".into(), format!("{key}={value}")]);
        }
        args.push(".".into());
        Cmd::new("docker", args)
    }
}

/// `docker run`: always labelled as the project's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub image: String,
    pub name: Option<String>,
    pub remove: bool,
    pub entrypoint: Option<String>,
    pub volumes: Vec<String>,
    pub volumes_from: Vec<String>,
    pub env: Vec<(String, String)>,
    pub command: Vec<String>,
}

impl Run {
    pub fn new(image: &str) -> Run {
        Run {
            image: image.into(),
            name: None,
            remove: false,
            entrypoint: None,
            volumes: Vec::new(),
            volumes_from: Vec::new(),
            env: Vec::new(),
            command: Vec::new(),
        }
    }

    /// `--rm`: the container is thrown away when it exits.
    pub fn remove(mut self) -> Run {
        self.remove = true;
        self
    }

    pub fn name(mut self, name: &str) -> Run {
        self.name = Some(name.into());
        self
    }

    pub fn entrypoint(mut self, entrypoint: &str) -> Run {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    pub fn volume(mut self, spec: &str) -> Run {
        self.volumes.push(spec.into());
        self
    }

    pub fn volumes_from(mut self, container: &str) -> Run {
        self.volumes_from.push(container.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(mut self, command: I) -> Run {
        self.command.extend(command.into_iter().map(Into::into));
        self
    }
}

impl From<Run> for Cmd {
    fn from(run: Run) -> Cmd {
        let mut args: Vec<String> = vec!["run".into()];
        if run.remove {
            args.push("--rm".into());
        }
        if let Some(name) = run.name {
            args.extend(["--name".into(), name]);
        }
        args.extend(["--label".into(), format!("{}={}", PROJECT_LABEL.0, PROJECT_LABEL.1)]);
        for volume in run.volumes {
            args.extend(["-v".into(), volume]);
        }
        for container in run.volumes_from {
            args.extend(["--volumes-from".into(), container]);
        }
        for (key, value) in run.env {
            args.extend(["-e".into(), format!("{key}={value}")]);
        }
        if let Some(entrypoint) = run.entrypoint {
            args.extend(["--entrypoint".into(), entrypoint]);
        }
        args.push(run.image);
        args.extend(run.command);
        Cmd::new("docker", args)
    }
}

/// Prints the engine's version; fails when no engine answers.
pub fn server_version() -> Cmd {
    Cmd::new("docker", ["version", "--format", "{{.Server.Version}}"])
}

/// Prints an image's id; fails when there is no such image.
pub fn image_id(image: &str) -> Cmd {
    Cmd::new("docker", ["image", "inspect", "--format", "{{.Id}}", image])
}

/// Prints the project label of a container; fails when there is no such container.
pub fn container_project(container: &str) -> Cmd {
    let format = format!("{{{{index .Config.Labels \"{}\"}}}}", PROJECT_LABEL.0);
    Cmd::new("docker", ["container", "inspect", "--format", &format, container])
}

/// Prints a volume's name; fails when there is no such volume.
pub fn volume_name(volume: &str) -> Cmd {
    Cmd::new("docker", ["volume", "inspect", "--format", "{{.Name}}", volume])
}

pub fn pull(image: &str) -> Cmd {
    Cmd::new("docker", ["pull", image])
}

/// Makes an image of a root filesystem tarball, labelled as the project's.
pub fn import(tarball: &str, tag: &str) -> Cmd {
    let label = format!("LABEL {}={} todobackend.image=os", PROJECT_LABEL.0, PROJECT_LABEL.1);
    Cmd::new(
        "docker",
        [
            "import",
            "--change",
            &label,
            "--change",
            r#"CMD ["bash"]"#,
            tarball,
            tag,
        ],
    )
}

/// Removes a container with its anonymous volumes.
pub fn remove_container(container: &str) -> Cmd {
    Cmd::new("docker", ["rm", "--force", "--volumes", container])
}

pub fn remove_volume(volume: &str) -> Cmd {
    Cmd::new("docker", ["volume", "rm", volume])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(cmd: impl Into<Cmd>) -> Vec<String> {
        let cmd = cmd.into();
        std::iter::once(cmd.program.to_string()).chain(cmd.args).collect()
    }

    #[test]
    fn build_uses_the_root_as_context_and_passes_build_args() {
        let build =
            Build::new("todobackend-base", "docker/base/Dockerfile").build_arg("OS_IMAGE", "debian:bookworm-slim");
        assert_eq!(
            argv(build),
            [
                "docker",
                "build",
                "-t",
                "todobackend-base",
                "-f",
                "docker/base/Dockerfile",
                "--build-arg",
                "OS_IMAGE=debian:bookworm-slim",
                ".",
            ]
        );
    }

    #[test]
    fn run_puts_options_before_the_image_and_the_command_after_it() {
        let run = Run::new("todobackend-dev")
            .remove()
            .volumes_from("cache")
            .env("DJANGO_SETTINGS_MODULE", "todobackend.settings.test")
            .command(["python", "manage.py", "test"]);
        assert_eq!(
            argv(run),
            [
                "docker",
                "run",
                "--rm",
                "--label",
                "application=todobackend",
                "--volumes-from",
                "cache",
                "-e",
                "DJANGO_SETTINGS_MODULE=todobackend.settings.test",
                "todobackend-dev",
                "python",
                "manage.py",
                "test",
            ]
        );
    }

    #[test]
    fn a_volume_container_is_named_and_overrides_the_entrypoint() {
        let run = Run::new("todobackend-dev")
            .name("cache")
            .volume("todobackend-cache:/cache")
            .entrypoint("true");
        assert_eq!(
            argv(run),
            [
                "docker",
                "run",
                "--name",
                "cache",
                "--label",
                "application=todobackend",
                "-v",
                "todobackend-cache:/cache",
                "--entrypoint",
                "true",
                "todobackend-dev",
            ]
        );
    }

    #[test]
    fn container_project_reads_the_project_label() {
        assert_eq!(
            argv(container_project("cache")),
            [
                "docker",
                "container",
                "inspect",
                "--format",
                r#"{{index .Config.Labels "application"}}"#,
                "cache"
            ]
        );
    }

    #[test]
    fn import_labels_the_os_image() {
        assert_eq!(
            argv(import("rootfs.tar", "todobackend-os:bookworm")),
            [
                "docker",
                "import",
                "--change",
                "LABEL application=todobackend todobackend.image=os",
                "--change",
                r#"CMD ["bash"]"#,
                "rootfs.tar",
                "todobackend-os:bookworm",
            ]
        );
    }
}
