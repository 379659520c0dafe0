//! What checkouts that are gone left on the engine: a clone or worktree removed (or moved)
//! after a run leaves its warm worker, the worker's network, runs' containers and networks
//! and the data `serve` kept, each labelled `todobackend.checkout=<its root>`. A label whose
//! path no longer exists, or exists without being a todobackend checkout, is an orphan's; any
//! checkout's `doctor` and `clean` find them. Only what todobackend labelled itself, and only
//! on a local engine: a remote one's checkouts may be on another machine, where this one
//! cannot look.

use anyhow::Result;
use camino::Utf8Path;

use crate::engine::docker::{self, CHECKOUT_LABEL, Kind};
use crate::project::Project;
use crate::runner::{READ, Runner};

/// What checkouts that are gone left, by kind.
#[derive(Default)]
pub struct Orphans {
    /// Their containers (workers, runs'), then networks: what no checkout can use any more.
    pub left: Vec<(Kind, String)>,
    /// Their volumes of kept data: what someone entered, removed only when asked.
    pub data: Vec<String>,
}

/// Whether a checkout labelled `root` is gone: an empty label is nobody's to judge.
fn gone(root: &str) -> bool {
    !root.is_empty() && !Project::is_checkout(Utf8Path::new(root))
}

/// What checkouts that are gone left on the engine (nothing on a remote engine).
pub fn find(runner: &Runner) -> Result<Orphans> {
    let mut orphans = Orphans::default();
    if !runner.engine()?.is_local() {
        return Ok(orphans);
    }
    let label = format!("label={CHECKOUT_LABEL}");
    for kind in [Kind::Container, Kind::Network, Kind::Volume] {
        let names = runner.probe(&docker::names(kind, &[&label]))?.unwrap_or_default();
        let names: Vec<String> = names.lines().map(String::from).collect();
        if names.is_empty() {
            continue;
        }
        // (One gone between the listing and this question is left out: its line is missing.)
        let roots = runner.read(&docker::label_values(kind, &names, CHECKOUT_LABEL), READ)?;
        let found = names
            .into_iter()
            .zip(roots.stdout.lines().map(str::trim))
            .filter(|(_, root)| gone(root))
            .map(|(name, _)| name);
        match kind {
            Kind::Volume => orphans.data.extend(found),
            _ => orphans.left.extend(found.map(|name| (kind, name))),
        }
    }
    Ok(orphans)
}

/// Removes what checkouts that are gone left, saying what; their kept data too with `data`,
/// else says it is kept and how to remove it. Whether anything was there.
pub fn remove(runner: &Runner, orphans: &Orphans, data: bool) -> Result<bool> {
    remove_left(runner, orphans)?;
    if !orphans.data.is_empty() {
        if data {
            runner.step(&format!(
                "Removing the data `serve` kept for checkouts that are gone: {}",
                orphans.data.join(", ")
            ));
            if runner.status(&docker::remove_all(Kind::Volume, &orphans.data))? != 0 {
                runner.step("Kept the volumes docker named above: a container uses them");
            }
        } else {
            runner.step(&format!(
                "Kept the data `serve` kept for checkouts that are gone ({}); `cargo xtask clean --data` removes it",
                orphans.data.join(", ")
            ));
        }
    }
    Ok(!orphans.left.is_empty() || data && !orphans.data.is_empty())
}

/// Removes the containers (workers, runs') and then the networks checkouts that are gone left.
pub fn remove_left(runner: &Runner, orphans: &Orphans) -> Result<()> {
    for kind in [Kind::Container, Kind::Network] {
        let names: Vec<String> = orphans
            .left
            .iter()
            .filter(|(of, _)| *of == kind)
            .map(|(_, name)| name.clone())
            .collect();
        if names.is_empty() {
            continue;
        }
        runner.step(&format!(
            "Removing what checkouts that are gone left (their workers, runs): {}",
            names.join(", ")
        ));
        // Another checkout's clean may have been quicker: what is gone is fine.
        if runner.status(&docker::remove_all(kind, &names))? != 0 {
            runner.step("Kept what docker named above: it could not be removed");
        }
    }
    Ok(())
}
