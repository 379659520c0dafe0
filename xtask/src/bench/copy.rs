//! The bench's own copy of the checkout, under names of its own, and the lab's build context.

use std::fs;

use anyhow::{Context, Result, bail};
use camino::Utf8Path;
use xshell::cmd;

use super::names::*;
use crate::machinery::images;
use crate::project::{BASE_DOCKERFILE, DEV_DOCKERFILE, Project, random_hex, shell_at};

/// The checkout as the xtask sees it, under the bench's names: its own images (the database's
/// too, and with `own_os_image` the OS image and the kept wheels' volume) and cache, and
/// Dockerfiles marked as the bench's.
pub fn copy_checkout(project: &Project, copy: &Utf8Path, own_os_image: bool) -> Result<()> {
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
pub fn marked_as_the_benchs(dockerfile: &str, nonce: &str) -> Option<String> {
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

/// The lab's files where its Dockerfiles expect them, and the copy's application.
pub fn lay_out_lab_context(project: &Project, copy: &Utf8Path, context: &Utf8Path) -> Result<()> {
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
pub fn test_modules(src: &Utf8Path) -> Result<Vec<(String, String)>> {
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
