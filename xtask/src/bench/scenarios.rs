//! Each scenario the bench times: the lab's flow, the xtask's, the native run, taking turns.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::copy::*;
use super::edits;
use super::figures::*;
use super::names::*;
use super::native::Native;
use crate::console::say;
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build, Run};
use crate::machinery::containers::Temporary;
use crate::machinery::images;
use crate::project::{OS_IMAGE_FROM_REGISTRY, Project};
use crate::runner::Runner;

pub struct Bench<'a> {
    pub runner: &'a Runner,
    /// The copy of the checkout, under the bench's names.
    pub copy: &'a Project,
    pub xtask: std::path::PathBuf,
}

impl Bench<'_> {
    /// Every part but the release image's: the first run from nothing, the cold runs against
    /// the lab's, the warm loop, the requirements change, the larger suite, the xtask itself.
    pub fn all(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
        let native = Native::ready(project, self.copy, self.runner)?;
        self.first_run(rounds, results)?;
        let context = self.copy.root.join(LAB_CONTEXT);
        lay_out_lab_context(project, &self.copy.root, &context)?;
        for round in 1..=rounds {
            self.cold_round(round, rounds, results)?;
        }
        self.warm_rounds(&native, rounds, true, results)?;
        self.requirements_change(rounds, results)?;
        self.scale(&native, rounds, results)?;
        self.xtask_itself(project, rounds, results)
    }

    /// The warm loop alone, beside the native run (`--only loop`).
    pub fn warm_loop(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
        let native = Native::ready(project, self.copy, self.runner)?;
        self.warm_rounds(&native, rounds, false, results)
    }

    /// `cargo xtask test` with nothing on the engine of the copy's: not its OS image, images,
    /// cache or database image. Each round, as every other row: the goal is on a median, and
    /// one run from nothing can be seconds slower than the next on this machine's disk.
    pub fn first_run(&self, rounds: usize, results: &mut Results) -> Result<()> {
        self.runner.step(&format!(
            "First run with no images at all (not even the OS image {COPY_OS_IMAGE}), {rounds} round(s)"
        ));
        if let Ok(Some(_)) = self.runner.probe(&docker::image_id(OS_IMAGE_FROM_REGISTRY)) {
            say!("   note: the engine has {OS_IMAGE_FROM_REGISTRY}, which every build uses: this is not from nothing");
        }
        for _ in 0..rounds {
            self.remove_images()?;
            self.remove_service_images();
            let _ = self.quiet(&docker::remove_all(
                docker::Kind::Image,
                std::slice::from_ref(&self.copy.names.os_image),
            ));
            self.flush_disk()?;
            results
                .from_nothing
                .0
                .push(self.time(|| self.xtask(&["test"]).map(drop))?);
        }
        Ok(())
    }

    /// Each flow's first run from nothing but the OS image, alone, from a flushed disk, the
    /// flows taking turns at going first: a build leaves the disk busy for whatever follows
    /// it, and either flow's layers would serve the other's build as cache.
    pub fn cold_round(&self, round: usize, rounds: usize, results: &mut Results) -> Result<()> {
        let order = if round % 2 == 1 { [true, false] } else { [false, true] };
        for lab in order {
            let name = if lab { "the lab's flow" } else { "cargo xtask test" };
            self.runner.step(&format!("Round {round} of {rounds}: cold, {name}"));
            self.remove_images()?;
            self.flush_disk()?;
            let took = self.time(|| self.cold(lab))?;
            if lab { &mut results.cold_lab } else { &mut results.cold }.0.push(took);
        }
        self.runner
            .step("Rebuilding what the second cold run removed (not timed)");
        self.cold(order[0])
    }

    /// The warm edit->test loop (against the native run, and the lab's with `lab`), a run
    /// with no change, `--settings test` and the floor, each round.
    pub fn warm_rounds(&self, native: &Native, rounds: usize, lab: bool, results: &mut Results) -> Result<()> {
        // The database image is not part of any of these, nor a first native run's bytecode.
        self.runner
            .step("Warming up: a run with the database, and a native run (not timed)");
        self.xtask(&["test", "--settings", "test"])?;
        self.quiet(&native.tests(self.copy, &[]))?;
        if !self.runner.dry_run() {
            Native::check_reports(self.copy)?;
        }
        for round in 1..=rounds {
            self.runner
                .step(&format!("Round {round} of {rounds}: warm, after an edit and unchanged"));
            if lab {
                self.edit(round, 1)?;
                results.edit_lab.0.push(self.time(|| self.lab_warm())?);
            }
            self.edit(round, 2)?;
            let mut out = String::new();
            results.edit.0.push(self.time(|| {
                out = self.xtask(&["test"])?;
                Ok(())
            })?);
            results.tests = results.tests.or(edits::tests_ran(&out));
            self.edit(round, 3)?;
            results
                .edit_native
                .0
                .push(self.time(|| self.quiet(&native.tests(self.copy, &[])).map(drop))?);
            if lab {
                results.unchanged_lab.0.push(self.time(|| self.lab_warm())?);
            }
            results.unchanged.0.push(self.time(|| self.xtask(&["test"]).map(drop))?);

            self.runner
                .step(&format!("Round {round} of {rounds}: --settings test, and the floor"));
            let started = Instant::now();
            let out = self.xtask(&["test", "--settings", "test"])?;
            results.settings_test.0.push(started.elapsed());
            results.ready.0.push(if self.runner.dry_run() {
                Duration::ZERO
            } else {
                ready_time(&out)?
            });
            results.floor.0.push(self.floor()?);
        }
        Ok(())
    }

    /// A requirement's pin bumped to a version pip has cached (a run with it first, not
    /// timed), then `cargo xtask test`; back to the checkout's each round, and at the end.
    pub fn requirements_change(&self, rounds: usize, results: &mut Results) -> Result<()> {
        let path = self.copy.root.join("src/requirements.txt");
        let original = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let (package, versions) = edits::BUMPED;
        let (bumped, from, to) = edits::bumped(&original, package, &versions)?;
        results.bump = format!("{package} {from} -> {to}");
        let write = |text: &str| fs::write(&path, text).with_context(|| format!("cannot write {path}"));
        self.runner.step(&format!(
            "Requirements change, {package} {from} -> {to}: a run with it first, for pip's cache (not timed)"
        ));
        write(&bumped)?;
        self.xtask(&["test"])?;
        for round in 1..=rounds {
            self.runner.step(&format!(
                "Round {round} of {rounds}: back to {from} (not timed), then {to}"
            ));
            write(&original)?;
            self.xtask(&["test"])?;
            // The image with the bumped pin is left dangling: gone, the builder cannot serve
            // the next build from its layers. The untimed build and the removal leave the
            // disk busy: flushed, as before a cold run.
            self.remove_dangling();
            self.flush_disk()?;
            write(&bumped)?;
            results
                .requirements
                .0
                .push(self.time(|| self.xtask(&["test"]).map(drop))?);
        }
        self.runner.step(&format!(
            "Back to the checkout's requirements, {package} {from} (not timed)"
        ));
        write(&original)?;
        self.xtask(&["test"]).map(drop)
    }

    /// The suite SCALE times larger, generated into the copy, serially and with two
    /// workers, `cargo xtask test` and the native run taking turns.
    pub fn scale(&self, native: &Native, rounds: usize, results: &mut Results) -> Result<()> {
        let modules = test_modules(&self.copy.root.join("src"))?;
        let texts: Vec<(&str, &str)> = modules
            .iter()
            .map(|(name, text)| (name.as_str(), text.as_str()))
            .collect();
        let module =
            edits::scaled_suite(&texts, SCALE - 1).context("src/*/tests.py: no test classes, or two of a name")?;
        let generated = Temporary::new(self.copy.root.join(SCALED_MODULE));
        fs::write(&generated.0, module).with_context(|| format!("cannot write {}", generated.0))?;
        for round in 1..=rounds {
            self.runner
                .step(&format!("Round {round} of {rounds}: the suite {SCALE} times larger"));
            for (workers, native_times, xtask_times) in [
                (&[][..], &mut results.scaled_native, &mut results.scaled),
                (
                    &["--parallel", "2"][..],
                    &mut results.scaled_parallel_native,
                    &mut results.scaled_parallel,
                ),
            ] {
                native_times
                    .0
                    .push(self.time(|| self.quiet(&native.tests(self.copy, workers)).map(drop))?);
                let args: Vec<&str> = ["test", "--"].into_iter().chain(workers.iter().copied()).collect();
                let mut out = String::new();
                xtask_times.0.push(self.time(|| {
                    out = self.xtask(&args)?;
                    Ok(())
                })?);
                results.scaled_tests = results.scaled_tests.or(edits::tests_ran(&out));
            }
        }
        Ok(())
    }

    /// How quickly the xtask answers, and builds from nothing (in a scratch target dir).
    pub fn xtask_itself(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
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

    pub fn time(&self, what: impl FnOnce() -> Result<()>) -> Result<Duration> {
        let started = Instant::now();
        what()?;
        let took = started.elapsed();
        say!("   {:.2} s", took.as_secs_f64());
        Ok(took)
    }

    /// Writes what earlier, untimed work left in the page cache, so that it is not billed to
    /// the run timed next.
    pub fn flush_disk(&self) -> Result<()> {
        self.quiet(&Cmd::new("sync", Vec::<String>::new())).map(drop)
    }

    pub fn quiet(&self, cmd: &Cmd) -> Result<String> {
        self.runner.quiet(cmd)
    }

    /// `cargo xtask ARGS` in the copy: this very executable, told where the copy is.
    pub fn xtask(&self, args: &[&str]) -> Result<String> {
        self.quiet(&self.xtask_cmd(args))
    }

    /// The xtask run on the copy, as its user would from there.
    pub fn xtask_cmd(&self, args: &[&str]) -> Cmd {
        let manifest_dir = self.copy.root.join("xtask");
        let xtask = self.xtask.to_string_lossy();
        Cmd::new(xtask, args.iter().copied()).env("CARGO_MANIFEST_DIR", manifest_dir.as_str())
    }

    /// A first run from nothing but the OS image, of the lab's flow or of `cargo xtask test`.
    pub fn cold(&self, lab: bool) -> Result<()> {
        if lab {
            self.lab_cold()
        } else {
            self.xtask(&["test"]).map(drop)
        }
    }

    pub fn lab_cold(&self) -> Result<()> {
        let context = self.copy.root.join(LAB_CONTEXT);
        let os_image = images::os_image(self.copy, self.runner)?.name;
        let base = Build::new(LAB_BASE, &format!("{context}/docker/base/Dockerfile"))
            .context(context.as_str())
            .label(docker::BUILT_IN_LABEL, self.copy.root.as_str())
            .build_arg("OS_IMAGE", &os_image);
        self.quiet(&base.into())?;
        self.lab_build()?;
        let cache = Run::new(LAB_DEV)
            .name(LAB_CACHE)
            .volume(&format!("{LAB_CACHE}:/cache"))
            .entrypoint("true");
        self.quiet(&cache.into())?;
        self.lab_run()
    }

    pub fn lab_warm(&self) -> Result<()> {
        self.lab_build()?;
        self.lab_run()
    }

    pub fn lab_build(&self) -> Result<()> {
        let context = self.copy.root.join(LAB_CONTEXT);
        // Labelled as built in the copy: each rebuild leaves the last one dangling, for
        // `remove_dangling` to find.
        let dev = Build::new(LAB_DEV, &format!("{context}/docker/dev/Dockerfile"))
            .context(context.as_str())
            .label(docker::BUILT_IN_LABEL, self.copy.root.as_str());
        self.quiet(&dev.into()).map(drop)
    }

    /// `docker run --rm --volumes-from cache todobackend-dev`, as the lab ran it.
    pub fn lab_run(&self) -> Result<()> {
        let run = Cmd::new("docker", ["run", "--rm", "--volumes-from", LAB_CACHE, LAB_DEV]);
        self.quiet(&run).map(drop)
    }

    /// A real edit in both flows' sources: a comment line, different each time.
    pub fn edit(&self, round: usize, flow: usize) -> Result<()> {
        if self.runner.dry_run() {
            return Ok(());
        }
        // The lab's tree too, where it is laid out (not for `--only loop`).
        let lab = Some(self.copy.root.join(LAB_CONTEXT)).filter(|lab| lab.exists());
        for tree in std::iter::once(self.copy.root.clone()).chain(lab) {
            let path = tree.join(EDITED);
            let mut text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
            text.push_str(&format!("# bench edit {round}.{flow}\n"));
            fs::write(&path, text).with_context(|| format!("cannot write {path}"))?;
        }
        Ok(())
    }

    /// The suite alone: `suite.py run` in a dev container that is already running.
    pub fn floor(&self) -> Result<Duration> {
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

    /// Every image either flow builds, and both caches (the kept wheels too, where the copy
    /// has a volume of its own for them): what "cold" starts from.
    pub fn remove_images(&self) -> Result<()> {
        self.remove_lab();
        // What the copy's runs keep between them (the test worker, which holds on to the dev
        // image) goes as a user's would, by `cargo xtask clean`: else no image would go.
        self.xtask(&["clean"])?;
        let names = &self.copy.names;
        let _ = self.quiet(&docker::remove_container(&names.cache_container));
        let _ = self.quiet(&docker::remove_volume(&names.cache_volume));
        let images = [
            names.dev_image.clone(),
            names.tools_image.clone(),
            names.base_image.clone(),
        ];
        let _ = self.quiet(&docker::remove_all(docker::Kind::Image, &images));
        self.remove_dangling();
        if names.own_wheels_volume {
            let _ = self.quiet(&docker::remove_volume(&names.wheels_volume));
        }
        Ok(())
    }

    /// The images the copy's builds left without a tag.
    pub fn remove_dangling(&self) {
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

    /// Everything the bench made: the lab's images, the copy's images, cache and runs, and
    /// the OS image where the copy has one of its own; the shared one stays: it is every
    /// checkout's, the user's too.
    pub fn remove_all(&self) {
        let _ = self.quiet(&docker::remove_container(FLOOR));
        let _ = self.remove_images();
        let _ = self.quiet(&docker::remove_all(
            docker::Kind::Image,
            std::slice::from_ref(&self.copy.names.release_image),
        ));
        self.remove_service_images();
        if self.copy.names.own_os_image {
            let _ = self.quiet(&docker::remove_all(
                docker::Kind::Image,
                std::slice::from_ref(&self.copy.names.os_image),
            ));
        }
    }

    /// The copy's database image (its own name: see `copy_checkout`).
    pub fn remove_service_images(&self) {
        let images: Vec<String> = self
            .copy
            .config
            .services
            .values()
            .map(|service| service.image.clone())
            .collect();
        let _ = self.quiet(&docker::remove_all(docker::Kind::Image, &images));
    }

    pub fn remove_lab(&self) {
        let _ = self.quiet(&docker::remove_container(LAB_CACHE));
        let _ = self.quiet(&docker::remove_volume(LAB_CACHE));
        let _ = self.quiet(&docker::remove_all(
            docker::Kind::Image,
            &[LAB_DEV.into(), LAB_BASE.into()],
        ));
    }
}

/// The "ready N s after `docker run`" a run with a database prints.
pub fn ready_time(out: &str) -> Result<Duration> {
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
