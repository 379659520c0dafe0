//! `cargo xtask clean`: removes what this checkout made and no longer uses, as the course's
//! `make clean` did, but scoped: runs over (never one in progress, here or elsewhere), found
//! by the labels a run sets itself; the test worker; the checkout's dangling build images;
//! its scratch files; and, in any checkout, what checkouts that are gone left (`orphans`). What the user entered (the data `serve` kept: `--data`), the pip cache
//! (`--all`, which takes the data too) and the shared images (`--images`) only when asked,
//! as compose's `down` keeps volumes unless `-v`; the Debian OS
//! image, which every checkout shares, only in a checkout without a name of its own.

use anyhow::Result;

use crate::engine::cmd::Cmd;
use crate::engine::docker::{self, BUILT_IN_LABEL, Kind, STAGE_LABEL};
use crate::flags;
use crate::machinery::{cache, dev_image, kept, lifecycle, orphans, worker};
use crate::project::{DEFAULT_NAME, Project, STAGED_CA_DIR, STAGED_WHEELS_DIR};
use crate::runner::Runner;
use crate::runner::session;

impl flags::Clean {
    pub fn run(self, project: &Project, dry_run: bool) -> Result<u8> {
        let what = What {
            cache: self.all,
            data: self.all || self.data,
            images: self.images,
        };
        run(project, &Runner::ready(project, dry_run, &[])?, &what).map(|()| 0)
    }
}

/// What `clean` removes beyond what runs left.
struct What {
    cache: bool,
    data: bool,
    images: bool,
}

/// What older versions left in the checkout.
const OLD_SCRATCH: &[&str] = &["target/xtask-os"];

fn run(project: &Project, runner: &Runner, what: &What) -> Result<()> {
    let mut removed = !lifecycle::recover(project, runner, true)?.is_empty();
    removed |= lifecycle::remove_kept(project, runner)?;
    // Before the dangling images: it keeps the dev image it was started on
    removed |= worker::remove(project, runner)?;
    // The cache container first: made from a dev image a rebuild has since untagged, it would
    // keep that image.
    if what.cache {
        removed |= cache::remove(project, runner)?;
    }
    if what.data {
        removed |= kept::remove(project, runner)?;
    }
    removed |= orphans::remove(runner, &orphans::find(runner)?, what.data)?;
    let mut live = session::live_runs(&project.root);
    live.retain(|run| *run != runner.run_name().name);
    if live.is_empty() {
        removed |= remove_dangling_images(project, runner)?;
        removed |= remove_scratch_files(project, runner)?;
    } else {
        runner.step(&format!(
            "Left alone: {} run(s) of this checkout in progress ({}), their files and the dangling images built here",
            live.len(),
            live.join(", ")
        ));
    }
    if !what.data {
        kept::say_kept(project, runner)?;
    }
    if !what.cache {
        let names = &project.names;
        runner.step(&format!(
            "Kept the pip cache (`{}`, volume {}); `cargo xtask clean --all` removes it too",
            names.cache_container, names.cache_volume
        ));
    }
    if what.images {
        removed |= remove_shared_images(project, runner)?;
    }
    if !removed {
        runner.step("Nothing of this checkout's runs is left on the engine or in the checkout");
    }
    Ok(())
}

/// The images builds in this checkout made that no tag names any more (each rebuild leaves
/// one). Docker keeps those a container still uses.
fn remove_dangling_images(project: &Project, runner: &Runner) -> Result<bool> {
    let label = format!("label={BUILT_IN_LABEL}={}", project.root);
    let dangling = lines(runner.probe(&docker::names(Kind::Image, &["dangling=true", &label]))?);
    let labelled = lines(runner.probe(&docker::names(Kind::Image, &[&label]))?);
    let ids = built_here(runner, dangling, labelled)?;
    if ids.is_empty() {
        return Ok(false);
    }
    runner.step(&format!(
        "Removing {} dangling image(s) built in this checkout",
        ids.len()
    ));
    if runner.status(&docker::remove_all(Kind::Image, &ids))? != 0 {
        runner.step("Kept the images above that docker named: containers use them");
    }
    Ok(true)
}

/// Of the `dangling` images, those a build here made. An image someone built FROM one of
/// ours inherits its labels; its layers give it away: they extend those of an image built
/// here. Every build here starts from the OS image but the release image's (both its
/// stages), which starts from the base image: a release-kind image is judged against the
/// release-kind images built here alone. A stage built alone here (the dev image's `tools`,
/// `todobackend.stage`) is a base only of images with its label: the dev images built here
/// extend it without it, as siblings, while an image built FROM it inherits it.
fn built_here(runner: &Runner, dangling: Vec<String>, labelled: Vec<String>) -> Result<Vec<String>> {
    if dangling.is_empty() || labelled.is_empty() {
        return Ok(Vec::new());
    }
    // The same label lists both: the dangling images are among the labelled ones, and their
    // layers and labels are asked with theirs (one gone from the second listing stays).
    // `None` when docker could not tell (an image went meanwhile): then nothing is removed.
    let Some(out) = runner.probe(&docker::image_layers(&labelled))? else {
        return Ok(Vec::new());
    };
    let layers = out
        .lines()
        .map(|line| line.split(',').skip(1).map(String::from).collect());
    let ours: Vec<(&String, Vec<String>)> = labelled.iter().zip(layers).collect();
    let releases = labelled_with(runner, &labelled, "todobackend.image", |kind| kind == "release")?;
    // (An image without the label gives Go's `<no value>`.)
    let stages = labelled_with(runner, &labelled, STAGE_LABEL, |stage| {
        !matches!(stage, "" | "<no value>")
    })?;
    Ok(ours
        .iter()
        .filter(|(id, _)| dangling.contains(id))
        .filter(|(id, layers)| {
            let (release, staged) = (releases.contains(id), stages.contains(id));
            !ours
                .iter()
                .filter(|(base, _)| !release || releases.contains(base))
                .filter(|(base, _)| staged || !stages.contains(base))
                // An image of no layers (Podman keeps a FROM-scratch stage's) is no base.
                .any(|(_, base)| !base.is_empty() && base.len() < layers.len() && layers.starts_with(base))
        })
        .map(|(id, _)| (*id).clone())
        .collect())
}

/// Which of `ids` have a label `key` with a value `wanted` accepts; none when docker cannot tell.
fn labelled_with(runner: &Runner, ids: &[String], key: &str, wanted: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = runner.probe(&docker::image_labels(&refs, key))?;
    // Ids come back whole (`sha256:...`), as they were asked or not: matched by prefix.
    let found: Vec<&str> = out
        .iter()
        .flat_map(|out| out.lines())
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, value)| wanted(value))
        .map(|(id, _)| id.trim_start_matches("sha256:"))
        .collect();
    Ok(ids
        .iter()
        .filter(|id| {
            let id = id.trim_start_matches("sha256:");
            found.iter().any(|full| full.starts_with(id))
        })
        .cloned()
        .collect())
}

fn lines(out: Option<String>) -> Vec<String> {
    out.unwrap_or_default().lines().map(String::from).collect()
}

/// Files runs leave in the checkout when they die (the directories of dead runs went with
/// their recovery, each with its staged CA bundle and wheels), and what older versions left:
/// with no run of the checkout alive, any staged CA bundle or wheels are left over.
fn remove_scratch_files(project: &Project, runner: &Runner) -> Result<bool> {
    let mut paths: Vec<String> = OLD_SCRATCH.iter().map(|path| path.to_string()).collect();
    if let Ok(entries) = project.root.join(STAGED_CA_DIR).read_dir_utf8() {
        paths.extend(
            entries
                .flatten()
                .filter(|entry| entry.path().extension() == Some("crt"))
                .map(|entry| format!("{STAGED_CA_DIR}/{}", entry.file_name())),
        );
    }
    // (Each run removes its own: only those of dead runs can be there.)
    if let Ok(mut staged) = project.root.join(STAGED_WHEELS_DIR).read_dir_utf8()
        && staged.next().is_some()
    {
        paths.push(STAGED_WHEELS_DIR.into());
    }
    if let Ok(entries) = project.root.join("target").read_dir_utf8() {
        // iid files of older versions' builds
        paths.extend(
            entries
                .flatten()
                .filter(|entry| entry.path().extension() == Some("iid"))
                .map(|entry| format!("target/{}", entry.file_name())),
        );
    }
    paths.retain(|path| project.root.join(path).exists());
    if paths.is_empty() {
        return Ok(false);
    }
    runner.step(&format!("Removing scratch files: {}", paths.join(", ")));
    runner.run(&Cmd::new("rm", ["-rf".to_string()].into_iter().chain(paths)))?;
    Ok(true)
}

/// The project's named images, each unless a container (of any checkout, or anyone's built
/// on it) uses it. Only images that carry the project's image label: a user's image that
/// happens to have one of these names is not the project's. The OS image is every
/// checkout's (see `Names`): a checkout with a name of its own leaves it, unless it names
/// an OS image of its own too. Whether there were any.
fn remove_shared_images(project: &Project, runner: &Runner) -> Result<bool> {
    let services = project
        .config
        .services
        .values()
        .filter(|service| service.dockerfile.is_some())
        .map(|service| &service.image);
    let names = &project.names;
    let shared = names.prefix == DEFAULT_NAME;
    let os_image = (shared || names.own_os_image).then_some(&names.os_image);
    // Every checkout's but where it names one of its own, as the OS image is
    let mut found = (shared || names.own_wheels_volume) && dev_image::remove_wheels(project, runner)?;
    for image in os_image
        .into_iter()
        .chain([
            &names.base_image,
            &names.dev_image,
            &names.tools_image,
            &names.release_image,
            &names.edge_image,
        ])
        .chain(services)
    {
        let labelled = runner.probe(&docker::image_label(image, "todobackend.image"))?;
        if labelled.is_none_or(|line| line.split_once(' ').is_none_or(|(_, kind)| kind.is_empty())) {
            continue;
        }
        found = true;
        let users = runner
            .probe(&docker::names(Kind::Container, &[&format!("ancestor={image}")]))?
            .unwrap_or_default();
        if users.is_empty() {
            runner.step(&format!("Removing the image {image}"));
            runner.run(&docker::remove_all(Kind::Image, &[image.to_string()]))?;
        } else {
            let users: Vec<&str> = users.lines().collect();
            runner.step(&format!("Kept the image {image}: used by {}", users.join(", ")));
        }
    }
    Ok(found)
}
