//! Images: `docker build` as a value (`Build`), and pulling, importing, tagging and pushing them.

use super::labels::PROJECT_LABEL;
use crate::engine::Builder;
use crate::engine::cmd::{Cmd, Race};

/// `docker build`, with the repository root as the build context unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub tag: String,
    pub dockerfile: String,
    pub context: String,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// A file that receives the built image's id, so a run uses what it built even when
    /// another checkout retags the name meanwhile.
    pub iidfile: Option<String>,
    /// `--target`: only this stage, under a name of its own (`tag`). BuildKit and Buildah
    /// make it an image apart, which no image built on it later takes along: named, it is
    /// neither dangling nor forgotten (`clean --images` removes it).
    pub stage: Option<String>,
    /// Built by the classic builder, which can lose `CACHE_PRUNED`.
    pub classic: bool,
}

/// The classic builder takes a step's image from its cache and makes the next step from it
/// in calls of their own: another client that removes an image meanwhile (`docker rmi`,
/// `clean` in another checkout) takes its untagged parents along, the one the build had just
/// taken among them when nothing else was built on it. The build then fails with one of these,
/// naming that image by its id; run again, it makes the step anew.
pub const CACHE_PRUNED: Race = Race {
    said: &[
        "failed to get digest sha256:",
        "unknown parent image ID sha256:",
        "No such image: sha256:",
        "unable to find image \"sha256:",
    ],
    why: "another client of the engine removed an image this build had taken from its cache",
};

impl Build {
    pub fn new(tag: &str, dockerfile: &str) -> Build {
        Build {
            tag: tag.into(),
            dockerfile: dockerfile.into(),
            context: ".".into(),
            build_args: Vec::new(),
            labels: Vec::new(),
            iidfile: None,
            stage: None,
            classic: false,
        }
    }

    /// Built by `builder`.
    pub fn built_by(mut self, builder: Builder) -> Build {
        self.classic = builder == Builder::Classic;
        self
    }

    /// Builds only the stage `stage`.
    pub fn stage(mut self, stage: &str) -> Build {
        self.stage = Some(stage.into());
        self
    }

    pub fn context(mut self, context: &str) -> Build {
        self.context = context.into();
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Build {
        self.labels.push((key.into(), value.into()));
        self
    }

    pub fn iidfile(mut self, path: &str) -> Build {
        self.iidfile = Some(path.into());
        self
    }

    pub fn build_arg(mut self, key: &str, value: &str) -> Build {
        self.build_args.push((key.into(), value.into()));
        self
    }
}

impl From<Build> for Cmd {
    fn from(build: Build) -> Cmd {
        // The lab's command, then --force-rm: a failed step leaves no stopped container behind.
        let mut args = vec!["build".into()];
        if let Some(stage) = build.stage {
            args.extend(["--target".into(), stage]);
        }
        args.extend(["-t".into(), build.tag]);
        args.extend(["-f".into(), build.dockerfile, "--force-rm".into()]);
        for (key, value) in build.build_args {
            args.extend(["--build-arg".into(), format!("{key}={value}")]);
        }
        for (key, value) in build.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        if let Some(path) = build.iidfile {
            args.extend(["--iidfile".into(), path]);
        }
        args.push(build.context);
        let mut cmd = Cmd::new("docker", args);
        cmd.race = build.classic.then_some(&CACHE_PRUNED);
        cmd
    }
}

/// The image a `build`, `pull` or `import` command makes: a dry run counts it as made.
pub fn image_made_by(cmd: &Cmd) -> Option<&str> {
    match cmd.args.first().map(String::as_str) {
        Some("build") => cmd
            .args
            .iter()
            .position(|arg| arg == "-t")
            .and_then(|at| cmd.args.get(at + 1)),
        Some("pull") => cmd.args.get(1),
        Some("import") => cmd.args.last(),
        _ => None,
    }
    .map(String::as_str)
}

pub fn pull(image: &str) -> Cmd {
    Cmd::new("docker", ["pull", image])
}

/// Makes an image of a root filesystem tarball, labelled as the project's (one `--change`
/// per label: Podman takes the rest of a line as the first label's value).
pub fn import(tarball: &str, tag: &str) -> Cmd {
    let label = format!("LABEL {}={}", PROJECT_LABEL.0, PROJECT_LABEL.1);
    Cmd::new(
        "docker",
        [
            "import",
            "--change",
            &label,
            "--change",
            "LABEL todobackend.image=os",
            "--change",
            r#"CMD ["bash"]"#,
            tarball,
            tag,
        ],
    )
}

/// Gives `image` another name, `reference` (`HOST:PORT/REPOSITORY:TAG`).
pub fn tag(image: &str, reference: &str) -> Cmd {
    Cmd::new("docker", ["tag", image, reference])
}

pub fn push(reference: &str) -> Cmd {
    Cmd::new("docker", ["push", reference])
}

/// Logs in to `registry` as `username`, the password on standard input: never in argv, in
/// the output, or in the client's environment.
pub fn login(registry: &str, username: &str, password: &str) -> Cmd {
    let mut cmd = Cmd::new(
        "docker",
        ["login", "--username", username, "--password-stdin", registry],
    );
    cmd.input = Some(format!("{password}\n"));
    cmd
}

/// Prints the digests an image has in registries, `HOST/REPOSITORY@sha256:...`, one a line.
pub fn repo_digests(image: &str) -> Cmd {
    Cmd::new(
        "docker",
        [
            "image",
            "inspect",
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            image,
        ],
    )
}
