//! `cargo xtask bench`: the lab's own flow and the product's, side by side in one run, over
//! several rounds. The lab's flow is a fixture (xtask/bench/lab/): its Dockerfiles and test.sh
//! as the first slice had them, built under names of their own, so improving the product
//! never moves the baseline. Both flows work on a copy of the checkout (`target/bench/`)
//! under names of its own (`todobackend-bench-*`): the bench edits sources and removes images
//! and caches, and none of them is the user's.

mod release;
mod wrk;

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use camino::Utf8Path;

use super::{Temporary, base_image};
use crate::cmd::Cmd;
use crate::console::{say, show};
use crate::docker::{self, Build, Run};
use crate::project::{BASE_DOCKERFILE, DEV_DOCKERFILE, Project, random_hex};
use crate::runner::Runner;

const FIXTURE: &str = "xtask/bench/lab";
/// The copy of the checkout both flows work on, and the prefix of what it makes.
const COPY: &str = "target/bench";
const COPY_NAME: &str = "todobackend-bench";
/// What a checkout holds for the xtask to work on.
const CHECKOUT: &[&str] = &["Cargo.toml", ".dockerignore", "docker", "scripts", "src", "acceptance"];
/// The lab's build context, in the copy: its files laid out as the lab had them, with src/.
const LAB_CONTEXT: &str = "target/bench-lab";
const LAB_BASE: &str = "todobackend-bench-lab-base";
const LAB_DEV: &str = "todobackend-bench-lab-dev";
/// The lab's volume container, and its volume.
const LAB_CACHE: &str = "todobackend-bench-lab-cache";
/// The file a round edits (a comment appended), in both flows' copies.
const EDITED: &str = "src/todo/__init__.py";
const FLOOR: &str = "todobackend-bench-floor";
/// Where the xtask is built from nothing, to time that.
const SCRATCH_TARGET: &str = "target/bench-xtask-build";

/// The figures of one scenario, over the rounds.
#[derive(Default)]
struct Times(Vec<Duration>);

impl Times {
    fn min(&self) -> f64 {
        self.0.iter().min().map_or(f64::NAN, Duration::as_secs_f64)
    }

    fn median(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).map_or(f64::NAN, Duration::as_secs_f64)
    }

    fn cell(&self) -> String {
        format!("{:>6.2} / {:>6.2}", self.min(), self.median())
    }
}

/// A scenario both flows run.
#[derive(Default)]
struct Pair {
    lab: Times,
    xtask: Times,
}

impl Pair {
    /// The product's median over the lab's.
    fn ratio(&self) -> f64 {
        self.xtask.median() / self.lab.median()
    }
}

#[derive(Default)]
struct Results {
    cold: Pair,
    edit: Pair,
    unchanged: Pair,
    settings_test: Times,
    ready: Times,
    floor: Times,
    help: Times,
    clean_build: Times,
}

/// Runs the bench: both flows' scenarios then the release section, or (`release_only`) the
/// release section alone.
pub fn run(project: &Project, runner: &Runner, rounds: usize, release_only: bool) -> Result<()> {
    let copy = Temporary::new(project.root.join(COPY));
    copy_checkout(project, &copy.0)?;
    let copy = Project::at(&copy.0)?;
    let os_image = base_image::os_image(&copy, runner)?.name;
    let context = copy.root.join(LAB_CONTEXT);
    lay_out_lab_context(project, &copy.root, &context)?;
    let bench = Bench {
        runner,
        copy: &copy,
        os_image,
        xtask: std::env::current_exe().context("cannot find the xtask's own executable")?,
    };
    let mut results = Results::default();
    let outcome = if release_only {
        Ok(())
    } else {
        bench
            .rounds(rounds, &mut results)
            .and_then(|()| bench.xtask_itself(project, rounds, &mut results))
    };
    let release = outcome.and_then(|()| bench.release(rounds));
    bench.remove_all();
    let release = release?;
    if !runner.dry_run() {
        if !release_only {
            report(rounds, &results);
        }
        release::report(rounds, &release);
    }
    Ok(())
}

/// The checkout as the xtask sees it, under the bench's names: its own images (the database's
/// too) and cache, and Dockerfiles marked as the bench's.
fn copy_checkout(project: &Project, copy: &Utf8Path) -> Result<()> {
    fs::create_dir_all(copy.join("xtask")).with_context(|| format!("cannot create {copy}"))?;
    for item in CHECKOUT {
        let status = std::process::Command::new("cp")
            .args(["-R", project.root.join(item).as_str(), copy.as_str()])
            .status()
            .context("cannot run cp")?;
        if !status.success() {
            bail!("cannot copy {item} into {copy}");
        }
    }
    let manifest = copy.join("Cargo.toml");
    let mut text = fs::read_to_string(&manifest).with_context(|| format!("cannot read {manifest}"))?;
    for service in project
        .config
        .services
        .values()
        .filter(|service| service.dockerfile.is_some())
    {
        let image = &service.image;
        text = text.replace(
            &format!("image = \"{image}\""),
            &format!("image = \"{COPY_NAME}-{image}\""),
        );
    }
    text.push_str(&format!("\n[workspace.metadata.todobackend]\nname = \"{COPY_NAME}\"\n"));
    fs::write(&manifest, text).with_context(|| format!("cannot write {manifest}"))?;
    // Every checkout builds on the same OS image (see `Names`): a label of this bench run's own
    // right after each FROM gives the copy's images no layer in common with the user's, so the
    // builder cannot serve a cold run from them.
    let nonce = random_hex(4)?;
    for dockerfile in [DEV_DOCKERFILE, BASE_DOCKERFILE] {
        let path = copy.join(dockerfile);
        let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let Some(marked) = marked_as_the_benchs(&text, &nonce) else {
            bail!("{path} has no FROM line");
        };
        fs::write(&path, marked).with_context(|| format!("cannot write {path}"))?;
    }
    Ok(())
}

/// `dockerfile` with `LABEL todobackend.bench=<nonce>` after each of its FROM lines: every
/// stage's, for a stage left unmarked (the dev image's first is a `scratch` one) would let
/// the stages after it be served from another checkout's layers.
fn marked_as_the_benchs(dockerfile: &str, nonce: &str) -> Option<String> {
    let label = format!("LABEL todobackend.bench={nonce}");
    let mut marked = String::new();
    let mut stages = 0;
    for line in dockerfile.lines() {
        marked.push_str(line);
        marked.push('\n');
        if line.starts_with("FROM ") {
            marked.push_str(&label);
            marked.push('\n');
            stages += 1;
        }
    }
    (stages > 0).then_some(marked)
}

fn report(rounds: usize, results: &Results) {
    show!("\ncargo xtask bench, {rounds} round(s): seconds, min / median");
    show!(
        "{:<38} {:>15}  {:>15}  {:>6}",
        "scenario",
        "lab's flow",
        "cargo xtask",
        "ratio"
    );
    for (name, pair) in [
        ("cold (only the OS image)", &results.cold),
        ("warm, after a source edit", &results.edit),
        ("warm, no change", &results.unchanged),
    ] {
        show!(
            "{name:<38} {}  {}  {:>6.2}",
            pair.lab.cell(),
            pair.xtask.cell(),
            pair.ratio()
        );
    }
    for (name, times) in [
        ("--settings test, warm", &results.settings_test),
        ("  of which the database got ready in", &results.ready),
        ("floor: suite in a running container", &results.floor),
        ("`cargo xtask --help`", &results.help),
        ("xtask build from a clean target", &results.clean_build),
    ] {
        show!("{name:<38} {:>15}  {}", "-", times.cell());
    }

    let edit = &results.edit;
    let db_margin = results.settings_test.median() - results.ready.median();
    show!("\ngoals (medians):");
    for (what, met, figure) in [
        (
            "edit->test loop <= 0.25 x the lab's",
            edit.ratio() <= 0.25,
            format!("{:.2} x", edit.ratio()),
        ),
        (
            "edit->test loop <= 2 s",
            edit.xtask.median() <= 2.0,
            format!("{:.2} s", edit.xtask.median()),
        ),
        (
            "cold first run <= the lab's",
            results.cold.ratio() <= 1.0,
            format!("{:.2} x", results.cold.ratio()),
        ),
        (
            "--settings test <= ready + 2 s",
            db_margin <= 2.0,
            format!("ready + {db_margin:.2} s"),
        ),
        (
            "`cargo xtask --help` <= 0.3 s",
            results.help.median() <= 0.3,
            format!("{:.3} s", results.help.median()),
        ),
        (
            "clean build of the xtask <= 20 s",
            results.clean_build.median() <= 20.0,
            format!("{:.1} s", results.clean_build.median()),
        ),
    ] {
        show!("  {} {what:<40} {figure}", if met { "met   " } else { "MISSED" });
    }
}

struct Bench<'a> {
    runner: &'a Runner,
    /// The copy of the checkout, under the bench's names.
    copy: &'a Project,
    os_image: String,
    xtask: std::path::PathBuf,
}

impl Bench<'_> {
    fn rounds(&self, rounds: usize, results: &mut Results) -> Result<()> {
        let Results {
            cold,
            edit,
            unchanged,
            settings_test,
            ready,
            floor,
            ..
        } = results;
        // The database image is not part of a cold run: have it before any round.
        self.runner.step("Warming up: a run with the database (not timed)");
        self.xtask(&["test", "--settings", "test"])?;
        for round in 1..=rounds {
            // Each cold run starts alone (either flow's layers would serve the other's build
            // as cache) from a flushed disk, and the flows take turns at going first: a build
            // leaves the disk busy for whatever follows it.
            let order = if round % 2 == 1 { [true, false] } else { [false, true] };
            for lab in order {
                let name = if lab { "the lab's flow" } else { "cargo xtask test" };
                self.runner.step(&format!("Round {round} of {rounds}: cold, {name}"));
                self.remove_images()?;
                self.quiet(&Cmd::new("sync", Vec::<String>::new()))?;
                let took = self.time(|| self.cold(lab))?;
                if lab { &mut cold.lab } else { &mut cold.xtask }.0.push(took);
            }
            self.runner
                .step("Rebuilding what the second cold run removed (not timed)");
            self.cold(order[0])?;

            self.runner
                .step(&format!("Round {round} of {rounds}: warm, after an edit and unchanged"));
            self.edit(round, 1)?;
            edit.lab.0.push(self.time(|| self.lab_warm())?);
            self.edit(round, 2)?;
            edit.xtask.0.push(self.time(|| self.xtask(&["test"]).map(drop))?);
            unchanged.lab.0.push(self.time(|| self.lab_warm())?);
            unchanged.xtask.0.push(self.time(|| self.xtask(&["test"]).map(drop))?);

            self.runner
                .step(&format!("Round {round} of {rounds}: --settings test, and the floor"));
            let started = Instant::now();
            let out = self.xtask(&["test", "--settings", "test"])?;
            settings_test.0.push(started.elapsed());
            ready.0.push(if self.runner.dry_run() {
                Duration::ZERO
            } else {
                ready_time(&out)?
            });
            floor.0.push(self.floor()?);
        }
        Ok(())
    }

    /// How quickly the xtask answers, and builds from nothing (in a scratch target dir).
    fn xtask_itself(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
        self.runner
            .step("The xtask itself: --help, and a build from a clean target");
        for _ in 0..rounds {
            let help = self.time(|| self.xtask(&["--help"]).map(drop))?;
            results.help.0.push(help);
        }
        let scratch = Temporary::new(project.root.join(SCRATCH_TARGET));
        let build = Cmd::new(
            "cargo",
            [
                "build",
                "--quiet",
                "--package",
                "xtask",
                "--target-dir",
                scratch.0.as_str(),
            ],
        );
        results.clean_build.0.push(self.time(|| self.quiet(&build).map(drop))?);
        Ok(())
    }

    fn time(&self, what: impl FnOnce() -> Result<()>) -> Result<Duration> {
        let started = Instant::now();
        what()?;
        let took = started.elapsed();
        say!("   {:.2} s", took.as_secs_f64());
        Ok(took)
    }

    fn quiet(&self, cmd: &Cmd) -> Result<String> {
        self.runner.quiet(cmd)
    }

    /// `cargo xtask ARGS` in the copy: this very executable, told where the copy is.
    fn xtask(&self, args: &[&str]) -> Result<String> {
        let manifest_dir = self.copy.root.join("xtask");
        let xtask = self.xtask.to_string_lossy();
        self.quiet(&Cmd::new(xtask, args.iter().copied()).env("CARGO_MANIFEST_DIR", manifest_dir.as_str()))
    }

    /// A first run from nothing but the OS image, of the lab's flow or of `cargo xtask test`.
    fn cold(&self, lab: bool) -> Result<()> {
        if lab {
            self.lab_cold()
        } else {
            self.xtask(&["test"]).map(drop)
        }
    }

    fn lab_cold(&self) -> Result<()> {
        let context = self.copy.root.join(LAB_CONTEXT);
        let base = Build::new(LAB_BASE, &format!("{context}/docker/base/Dockerfile"))
            .context(context.as_str())
            .label(docker::BUILT_IN_LABEL, self.copy.root.as_str())
            .build_arg("OS_IMAGE", &self.os_image);
        self.quiet(&base.into())?;
        self.lab_build()?;
        let cache = Run::new(LAB_DEV)
            .name(LAB_CACHE)
            .volume(&format!("{LAB_CACHE}:/cache"))
            .entrypoint("true");
        self.quiet(&cache.into())?;
        self.lab_run()
    }

    fn lab_warm(&self) -> Result<()> {
        self.lab_build()?;
        self.lab_run()
    }

    fn lab_build(&self) -> Result<()> {
        let context = self.copy.root.join(LAB_CONTEXT);
        // Labelled as built in the copy: each rebuild leaves the last one dangling, for
        // `remove_dangling` to find.
        let dev = Build::new(LAB_DEV, &format!("{context}/docker/dev/Dockerfile"))
            .context(context.as_str())
            .label(docker::BUILT_IN_LABEL, self.copy.root.as_str());
        self.quiet(&dev.into()).map(drop)
    }

    /// `docker run --rm --volumes-from cache todobackend-dev`, as the lab ran it.
    fn lab_run(&self) -> Result<()> {
        let run = Cmd::new("docker", ["run", "--rm", "--volumes-from", LAB_CACHE, LAB_DEV]);
        self.quiet(&run).map(drop)
    }

    /// A real edit in both flows' sources: a comment line, different each time.
    fn edit(&self, round: usize, flow: usize) -> Result<()> {
        if self.runner.dry_run() {
            return Ok(());
        }
        for tree in [self.copy.root.clone(), self.copy.root.join(LAB_CONTEXT)] {
            let path = tree.join(EDITED);
            let mut text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
            text.push_str(&format!("# bench edit {round}.{flow}\n"));
            fs::write(&path, text).with_context(|| format!("cannot write {path}"))?;
        }
        Ok(())
    }

    /// The suite alone: `suite.py run` in a dev container that is already running.
    fn floor(&self) -> Result<Duration> {
        let keep_running = Run::new(&self.copy.names.dev_image)
            .detach()
            .name(FLOOR)
            .entrypoint("sleep")
            .command(["600"]);
        self.quiet(&keep_running.into())?;
        let suite = Cmd::new("docker", ["exec", FLOOR, "test.sh", "suite.py", "run"]);
        let took = self.time(|| self.quiet(&suite).map(drop));
        self.quiet(&docker::remove_container(FLOOR))?;
        took
    }

    /// Every image either flow builds, and both caches: what "cold" starts from.
    fn remove_images(&self) -> Result<()> {
        self.remove_lab();
        let names = &self.copy.names;
        let _ = self.quiet(&docker::remove_container(&names.cache_container));
        let _ = self.quiet(&docker::remove_volume(&names.cache_volume));
        let images = [names.dev_image.clone(), names.base_image.clone()];
        let _ = self.quiet(&docker::remove_all(docker::Kind::Image, &images));
        self.remove_dangling();
        Ok(())
    }

    /// The images the copy's builds left without a tag.
    fn remove_dangling(&self) {
        let label = format!("label={}={}", docker::BUILT_IN_LABEL, self.copy.root);
        if let Ok(Some(ids)) = self
            .runner
            .probe(&docker::names(docker::Kind::Image, &["dangling=true", &label]))
        {
            let ids: Vec<String> = ids.lines().map(String::from).collect();
            if !ids.is_empty() {
                let _ = self.quiet(&docker::remove_all(docker::Kind::Image, &ids));
            }
        }
    }

    /// Everything the bench made: the lab's images, the copy's images, cache and runs. The OS
    /// image stays: it is every checkout's, the user's too.
    fn remove_all(&self) {
        let _ = self.quiet(&docker::remove_container(FLOOR));
        let _ = self.remove_images();
        let _ = self.quiet(&docker::remove_all(
            docker::Kind::Image,
            std::slice::from_ref(&self.copy.names.release_image),
        ));
        let images: Vec<String> = self
            .copy
            .config
            .services
            .values()
            .map(|service| service.image.clone())
            .collect();
        let _ = self.quiet(&docker::remove_all(docker::Kind::Image, &images));
    }

    fn remove_lab(&self) {
        let _ = self.quiet(&docker::remove_container(LAB_CACHE));
        let _ = self.quiet(&docker::remove_volume(LAB_CACHE));
        let _ = self.quiet(&docker::remove_all(
            docker::Kind::Image,
            &[LAB_DEV.into(), LAB_BASE.into()],
        ));
    }
}

/// The lab's files where its Dockerfiles expect them, and the copy's application.
fn lay_out_lab_context(project: &Project, copy: &Utf8Path, context: &Utf8Path) -> Result<()> {
    let fixture = project.root.join(FIXTURE);
    let files = [
        ("base.Dockerfile", "docker/base/Dockerfile"),
        ("dev.Dockerfile", "docker/dev/Dockerfile"),
        ("entrypoint.sh", "scripts/entrypoint.sh"),
        ("test.sh", "scripts/test.sh"),
    ];
    for (from, to) in files {
        let to = context.join(to);
        fs::create_dir_all(to.parent().context("no parent")?)?;
        fs::copy(fixture.join(from), &to).with_context(|| format!("cannot copy {fixture}/{from} to {to}"))?;
    }
    fs::create_dir_all(context.join("docker/base/host-ca"))?;
    if let Some(bundle) = base_image::host_ca_bundle() {
        fs::copy(&bundle, context.join("docker/base/host-ca/host-ca.crt"))
            .with_context(|| format!("cannot copy {bundle}"))?;
    }
    let status = std::process::Command::new("cp")
        .args(["-R", copy.join("src").as_str(), context.as_str()])
        .status()
        .context("cannot run cp")?;
    if !status.success() {
        bail!("cannot copy src/ into {context}");
    }
    Ok(())
}

/// The "ready N s after `docker run`" a run with a database prints.
fn ready_time(out: &str) -> Result<Duration> {
    let line = out
        .lines()
        .find_map(|line| line.trim().strip_prefix("ready "))
        .context("the run printed no database ready time")?;
    let seconds: f64 = line
        .trim_end_matches(" s after `docker run`")
        .parse()
        .context("a ready time that is not a number")?;
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copys_dockerfiles_get_a_label_of_the_bench_runs_own_right_after_each_from() {
        let dockerfile = "# the dev image\nARG OS_IMAGE=debian:bookworm-slim\nFROM ${OS_IMAGE}\nLABEL a=b\nRUN true\n";
        assert_eq!(
            marked_as_the_benchs(dockerfile, "1f2e").as_deref(),
            Some(
                "# the dev image\nARG OS_IMAGE=debian:bookworm-slim\nFROM ${OS_IMAGE}\nLABEL todobackend.bench=1f2e\n\
                 LABEL a=b\nRUN true\n"
            )
        );
        assert_eq!(
            marked_as_the_benchs("FROM scratch AS ca\nCOPY a /a\nFROM os\nCOPY --from=ca /a /a\n", "1f2e").as_deref(),
            Some(
                "FROM scratch AS ca\nLABEL todobackend.bench=1f2e\nCOPY a /a\nFROM os\nLABEL todobackend.bench=1f2e\n\
                 COPY --from=ca /a /a\n"
            )
        );
        assert_eq!(marked_as_the_benchs("RUN true\n", "1f2e"), None);
        let dev = std::fs::read_to_string(Project::locate().unwrap().root.join(DEV_DOCKERFILE)).unwrap();
        assert!(marked_as_the_benchs(&dev, "1f2e").is_some());
    }
}
