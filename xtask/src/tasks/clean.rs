//! Removes what the project made on the engine, found by its label, as the course's
//! `make clean` did. The pip cache survives unless `--all` asks for it too.

use anyhow::Result;

use crate::docker::{self, Kind, PROJECT_LABEL};
use crate::project::{CACHE_CONTAINER, CACHE_VOLUME};
use crate::runner::Runner;

pub fn run(runner: &Runner, all: bool) -> Result<()> {
    let label = format!("{}={}", PROJECT_LABEL.0, PROJECT_LABEL.1);
    let keep = |name: &String| !all && (name == CACHE_CONTAINER || name == CACHE_VOLUME);
    let mut removed_any = false;
    // Containers first: they hold networks, volumes and images.
    for kind in [Kind::Container, Kind::Network, Kind::Volume, Kind::Image] {
        let listed = runner.probe(&docker::list_labelled(kind, &label))?.unwrap_or_default();
        let mut names: Vec<String> = listed.lines().map(String::from).filter(|name| !keep(name)).collect();
        if all && kind == Kind::Volume && runner.probe(&docker::volume_name(CACHE_VOLUME))?.is_some() {
            names.push(CACHE_VOLUME.into());
        }
        if kind == Kind::Image {
            names = names.iter().map(|line| image_ref(line)).collect();
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        runner.step(&format!(
            "Removing {} {}: {}",
            names.len(),
            kind.plural(),
            names.join(", ")
        ));
        runner.run(&docker::remove_all(kind, &names))?;
        removed_any = true;
    }
    if !removed_any {
        runner.step("Nothing of todobackend's is left on the engine");
    }
    if !all {
        runner.step(&format!(
            "Kept the pip cache (`{CACHE_CONTAINER}`, volume {CACHE_VOLUME}); `cargo xtask clean --all` removes it too"
        ));
    }
    Ok(())
}

/// A `repo:tag@id` line as the name to remove it by: its tag, or its id when it has none.
fn image_ref(line: &str) -> String {
    match line.rsplit_once('@') {
        Some((tagged, _)) if !tagged.contains("<none>") => tagged.to_string(),
        Some((_, id)) => id.to_string(),
        None => line.to_string(),
    }
}
