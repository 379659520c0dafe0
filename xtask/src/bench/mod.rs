//! `cargo xtask bench`: `cargo xtask test` beside two baselines in one run, over several
//! rounds. The lab's own flow is a fixture (xtask/bench/lab/): its Dockerfiles and test.sh
//! as the first slice had them, built under names of their own, so improving the product
//! never moves the baseline. The native run (`native`) is the same suite with the same reports
//! on this host with no Docker at all. Everything works on a copy of the checkout
//! (`target/bench/`) under names of its own (`todobackend-bench-*`, its OS image too in a
//! whole run): the bench edits sources and removes images and caches, and none of them is the
//! user's. It drives the xtask through its command line only, so it measures whatever
//! `cargo xtask test` does.

mod edits;
mod native;
mod release;
mod wrk;

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use xshell::cmd;

use self::native::Native;
use crate::console::{say, show};
use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, Build, Run};
use crate::flags;
use crate::flags::BenchPart;
use crate::machinery::containers::Temporary;
use crate::machinery::images;
use crate::project::{BASE_DOCKERFILE, DEV_DOCKERFILE, OS_IMAGE_FROM_REGISTRY, Project, random_hex, shell_at};
use crate::runner::Runner;

impl flags::Bench {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        run(project, &Runner::ready(project, dry_run, &[])?, self.rounds, self.only).map(|()| 0)
    }
}

const FIXTURE: &str = "xtask/bench/lab";
/// The copy of the checkout both flows work on, and the prefix of what it makes.
const COPY: &str = "target/bench";
const COPY_NAME: &str = "todobackend-bench";
/// The copy's own OS image, which the first run from nothing removes: never the user's.
const COPY_OS_IMAGE: &str = "todobackend-bench-os:bookworm";
/// How many times larger the scaled suite is than the checkout's: SCALE - 1 copies of each
/// test class of `src/*/tests.py` beside the originals.
const SCALE: usize = 50;
/// Where it is generated, in the copy: a test module Django's discovery finds.
const SCALED_MODULE: &str = "src/todo/tests_scaled.py";
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
        if self.0.is_empty() {
            return format!("{:>15}", "-");
        }
        format!("{:>6.2} / {:>6.2}", self.min(), self.median())
    }
}

/// `a`'s median over `b`'s.
fn ratio(a: &Times, b: &Times) -> f64 {
    a.median() / b.median()
}

#[derive(Default)]
struct Results {
    from_nothing: Times,
    cold_lab: Times,
    cold: Times,
    edit_lab: Times,
    edit_native: Times,
    edit: Times,
    unchanged_lab: Times,
    unchanged: Times,
    settings_test: Times,
    ready: Times,
    floor: Times,
    /// What the requirements change was, e.g. `sqlparse 0.6.1 -> 0.6.0`.
    bump: String,
    requirements: Times,
    /// The tests the suite ran, as checked out and SCALE times larger.
    tests: Option<usize>,
    scaled_tests: Option<usize>,
    scaled_native: Times,
    scaled: Times,
    scaled_parallel_native: Times,
    scaled_parallel: Times,
    help: Times,
    clean_build: Times,
    /// The machine's 1-minute load average before the first scenario and after the last:
    /// other work on it moves every figure.
    load: (Option<f64>, Option<f64>),
}

/// Runs the bench: every part, or one alone (`--only loop|release`).
fn run(project: &Project, runner: &Runner, rounds: usize, only: Option<BenchPart>) -> Result<()> {
    if only != Some(BenchPart::Loop) {
        release::check_wrk(runner)?;
    }
    let copy = Temporary::new(project.root.join(COPY));
    // Only the whole bench starts from nothing, which needs an OS image of the copy's own;
    // a part alone builds on the shared one, as the user's checkout does.
    copy_checkout(project, &copy.0, only.is_none())?;
    let copy = Project::at(&copy.0)?;
    let bench = Bench {
        runner,
        copy: &copy,
        xtask: std::env::current_exe().context("cannot find the xtask's own executable")?,
    };
    let mut results = Results::default();
    results.load.0 = release::load_average();
    let outcome = match only {
        None => bench.all(project, rounds, &mut results),
        Some(BenchPart::Loop) => bench.warm_loop(project, rounds, &mut results),
        Some(BenchPart::Release) => Ok(()),
    };
    results.load.1 = release::load_average();
    let release = outcome.and_then(|()| match only {
        Some(BenchPart::Loop) => Ok(None),
        _ => bench.release(rounds).map(Some),
    });
    bench.remove_all();
    let release = release?;
    if !runner.dry_run() {
        if only != Some(BenchPart::Release) {
            report(rounds, &results);
        }
        if let Some(release) = release {
            release::report(rounds, &release);
        }
    }
    Ok(())
}

/// The checkout as the xtask sees it, under the bench's names: its own images (the database's
/// too, and with `own_os_image` the OS image and the kept wheels' volume) and cache, and
/// Dockerfiles marked as the bench's.
fn copy_checkout(project: &Project, copy: &Utf8Path, own_os_image: bool) -> Result<()> {
    fs::create_dir_all(copy.join("xtask")).with_context(|| format!("cannot create {copy}"))?;
    let sh = shell_at(&project.root)?;
    for item in CHECKOUT {
        cmd!(sh, "cp -R {item} {copy}")
            .quiet()
            .run()
            .with_context(|| format!("cannot copy {item} into {copy}"))?;
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
    if own_os_image {
        text.push_str(&format!("os_image = \"{COPY_OS_IMAGE}\"\n"));
        // Nor any wheel kept from an earlier build
        text.push_str(&format!("wheels_volume = \"{COPY_NAME}-wheels\"\n"));
    }
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

/// One row of the table: the lab's flow, the native run and `cargo xtask`, where measured.
type Row<'a> = (String, Option<&'a Times>, Option<&'a Times>, &'a Times);

fn report(rounds: usize, r: &Results) {
    show!("\ncargo xtask bench, {rounds} round(s): seconds, min / median");
    let load = |value: Option<f64>| value.map_or("?".into(), |value| format!("{value:.2}"));
    show!(
        "  the machine's load average, first then last: {} then {} (on {} cores)",
        load(r.load.0),
        load(r.load.1),
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    show!("  lab's flow:  the lab's Dockerfiles and test.sh, `docker build` then `docker run` each time");
    show!(
        "  native:      coverage run manage.py test + coverage xml on this host, no Docker: a venv, the base settings, both reports"
    );
    show!("  cargo xtask: `cargo xtask test` on the copy, both reports (JUnit, coverage XML)");
    show!(
        "{:<44} {:>15}  {:>15}  {:>15}  {:>6}  {:>8}",
        "scenario",
        "lab's flow",
        "native",
        "cargo xtask",
        "x/lab",
        "x/native"
    );
    let tests = r.tests.map_or(String::new(), |n| format!(", {n} tests"));
    let scaled = r
        .scaled_tests
        .map_or(format!("{SCALE} x the suite"), |n| format!("{n} tests ({SCALE} x)"));
    let rows: Vec<Row> = vec![
        ("first run, no images at all".into(), None, None, &r.from_nothing),
        ("cold (only the OS image)".into(), Some(&r.cold_lab), None, &r.cold),
        (
            format!("warm, after a source edit{tests}"),
            Some(&r.edit_lab),
            Some(&r.edit_native),
            &r.edit,
        ),
        ("warm, no change".into(), Some(&r.unchanged_lab), None, &r.unchanged),
        ("--settings test, warm".into(), None, None, &r.settings_test),
        ("  of which the database got ready in".into(), None, None, &r.ready),
        ("floor: suite in a running container".into(), None, None, &r.floor),
        (format!("requirements change, {}", r.bump), None, None, &r.requirements),
        (format!("{scaled}, serial"), None, Some(&r.scaled_native), &r.scaled),
        (
            format!("{scaled}, --parallel 2"),
            None,
            Some(&r.scaled_parallel_native),
            &r.scaled_parallel,
        ),
        ("`cargo xtask --help`".into(), None, None, &r.help),
        ("xtask build from a clean target".into(), None, None, &r.clean_build),
    ];
    let dash = |t: Option<&Times>| t.map_or(format!("{:>15}", "-"), Times::cell);
    let versus = |t: Option<&Times>, x: &Times, width: usize| match t.map(|t| ratio(x, t)) {
        Some(q) if q.is_finite() => format!("{q:>width$.2}"),
        _ => format!("{:>width$}", "-"),
    };
    let measured = |t: Option<&Times>| t.is_some_and(|t| !t.0.is_empty());
    for (name, lab, native, xtask) in &rows {
        // A part alone (`--only loop`) measures some rows only.
        if !(measured(*lab) || measured(*native) || measured(Some(xtask))) {
            continue;
        }
        show!(
            "{name:<44} {}  {}  {}  {}  {}",
            dash(*lab),
            dash(*native),
            xtask.cell(),
            versus(*lab, xtask, 6),
            versus(*native, xtask, 8)
        );
    }
    scaling(r);
    goals(r);
}

/// How the cost grows with the suite: per test, the fixed cost aside.
fn scaling(r: &Results) {
    let (Some(small), Some(large)) = (r.tests, r.scaled_tests) else {
        return;
    };
    if large <= small || r.scaled.0.is_empty() {
        return;
    }
    let added = (large - small) as f64;
    let per_test = |big: &Times, base: &Times| 1000.0 * (big.median() - base.median()) / added;
    show!(
        "\nhow it scales, {small} -> {large} tests: ms per test added (median over median), and per test of the large suite"
    );
    show!("{:<44} {:>15}  {:>15}  {:>8}", "", "native", "cargo xtask", "x/native");
    for (name, native, xtask) in [
        (
            "per test added, serial",
            per_test(&r.scaled_native, &r.edit_native),
            per_test(&r.scaled, &r.edit),
        ),
        (
            "per test, serial",
            1000.0 * r.scaled_native.median() / large as f64,
            1000.0 * r.scaled.median() / large as f64,
        ),
        (
            "per test, --parallel 2",
            1000.0 * r.scaled_parallel_native.median() / large as f64,
            1000.0 * r.scaled_parallel.median() / large as f64,
        ),
    ] {
        show!("{name:<44} {native:>15.2}  {xtask:>15.2}  {:>8.2}", xtask / native);
    }
}

fn goals(r: &Results) {
    show!("\ngoals (medians):");
    let seconds = |t: &Times, limit: f64, digits: usize| (t.median(), limit, format!("{:.digits$} s", t.median()));
    let versus_native = ratio(&r.edit, &r.edit_native);
    for (what, (value, limit, shown)) in [
        ("edit->test loop <= 0.5 s", seconds(&r.edit, 0.5, 2)),
        (
            "edit->test loop <= native",
            (versus_native, 1.0, format!("{versus_native:.2} x native")),
        ),
        ("--settings test, warm <= 1.3 s", seconds(&r.settings_test, 1.3, 2)),
        ("requirements change <= 10 s", seconds(&r.requirements, 10.0, 2)),
        ("first run, no images <= 40 s", seconds(&r.from_nothing, 40.0, 1)),
        ("`cargo xtask --help` <= 0.05 s", seconds(&r.help, 0.05, 3)),
        ("clean build of the xtask <= 10 s", seconds(&r.clean_build, 10.0, 1)),
    ] {
        let shown = if value.is_nan() {
            "not measured in this run".into()
        } else {
            shown
        };
        show!("  {} {what:<40} {shown}", verdict(value, limit));
    }
}

/// A goal's verdict: met, missed, or not measured in this run (a part alone).
fn verdict(value: f64, limit: f64) -> &'static str {
    if value.is_nan() {
        "-     "
    } else if value <= limit {
        "met   "
    } else {
        "MISSED"
    }
}

struct Bench<'a> {
    runner: &'a Runner,
    /// The copy of the checkout, under the bench's names.
    copy: &'a Project,
    xtask: std::path::PathBuf,
}

impl Bench<'_> {
    /// Every part but the release image's: the first run from nothing, the cold runs against
    /// the lab's, the warm loop, the requirements change, the larger suite, the xtask itself.
    fn all(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
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
    fn warm_loop(&self, project: &Project, rounds: usize, results: &mut Results) -> Result<()> {
        let native = Native::ready(project, self.copy, self.runner)?;
        self.warm_rounds(&native, rounds, false, results)
    }

    /// `cargo xtask test` with nothing on the engine of the copy's: not its OS image, images,
    /// cache or database image. Each round, as every other row: the goal is on a median, and
    /// one run from nothing can be seconds slower than the next on this machine's disk.
    fn first_run(&self, rounds: usize, results: &mut Results) -> Result<()> {
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
    fn cold_round(&self, round: usize, rounds: usize, results: &mut Results) -> Result<()> {
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
    fn warm_rounds(&self, native: &Native, rounds: usize, lab: bool, results: &mut Results) -> Result<()> {
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
    fn requirements_change(&self, rounds: usize, results: &mut Results) -> Result<()> {
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
    fn scale(&self, native: &Native, rounds: usize, results: &mut Results) -> Result<()> {
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

    /// Writes what earlier, untimed work left in the page cache, so that it is not billed to
    /// the run timed next.
    fn flush_disk(&self) -> Result<()> {
        self.quiet(&Cmd::new("sync", Vec::<String>::new())).map(drop)
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

    /// Every image either flow builds, and both caches (the kept wheels too, where the copy
    /// has a volume of its own for them): what "cold" starts from.
    fn remove_images(&self) -> Result<()> {
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

    /// Everything the bench made: the lab's images, the copy's images, cache and runs, and
    /// the OS image where the copy has one of its own; the shared one stays: it is every
    /// checkout's, the user's too.
    fn remove_all(&self) {
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
    fn remove_service_images(&self) {
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
    if let Some(bundle) = images::host_ca_bundle() {
        fs::copy(&bundle, context.join("docker/base/host-ca/host-ca.crt"))
            .with_context(|| format!("cannot copy {bundle}"))?;
    }
    let sh = shell_at(copy)?;
    cmd!(sh, "cp -R src {context}")
        .quiet()
        .run()
        .with_context(|| format!("cannot copy src/ into {context}"))?;
    Ok(())
}

/// The application's test modules, `src/*/tests.py`: dotted name and text, in name order.
fn test_modules(src: &Utf8Path) -> Result<Vec<(String, String)>> {
    let mut modules = Vec::new();
    for entry in src.read_dir_utf8().with_context(|| format!("cannot list {src}"))? {
        let package = entry?.into_path();
        let tests = package.join("tests.py");
        if let (true, Some(name)) = (tests.is_file(), package.file_name()) {
            let text = fs::read_to_string(&tests).with_context(|| format!("cannot read {tests}"))?;
            modules.push((format!("{name}.tests"), text));
        }
    }
    modules.sort();
    Ok(modules)
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
    fn the_scaled_suite_repeats_every_test_module_of_the_application() {
        let src = Project::locate().unwrap().root.join("src");
        let modules = test_modules(&src).unwrap();
        let names: Vec<&str> = modules.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["todo.tests", "todobackend.tests"]);
        let texts: Vec<(&str, &str)> = modules.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        assert!(edits::scaled_suite(&texts, SCALE - 1).is_some());
    }

    #[test]
    fn a_goal_not_measured_in_this_run_is_neither_met_nor_missed() {
        assert_eq!(verdict(0.4, 0.5), "met   ");
        assert_eq!(verdict(0.5, 0.5), "met   ");
        assert_eq!(verdict(0.6, 0.5), "MISSED");
        assert_eq!(verdict(Times::default().median(), 0.5), "-     ");
    }

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
