//! What a copy's runs left on the engine, found by the copy's label: the test worker and its
//! network apart, which the checkout keeps between runs on purpose.

use std::time::{Duration, Instant};

use super::checkout::Checkout;

/// The containers (with their state) and networks labelled with `checkout`, one line each,
/// but for the test worker and its network, which the checkout keeps between runs on
/// purpose (`clean` removes them: `Checkout`'s drop checks it does).
pub fn left_on_engine(checkout: &Checkout) -> Vec<String> {
    // By filters alone: Docker's and Podman's `ls` formats differ on labels.
    let label = format!("label={}", checkout.label());
    let listed = |kind: &str, filters: &[&str]| {
        let format = if kind == "container" {
            "{{.Names}} ({{.Status}})"
        } else {
            "{{.Name}}"
        };
        let mut args = vec![kind, "ls", "--format", format];
        if kind == "container" {
            args.push("--all");
        }
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        checkout.docker_lines(&args).unwrap_or_else(|failed| vec![failed])
    };
    let name = |line: &str| line.split(' ').next().unwrap_or_default().to_string();
    let mut left = Vec::new();
    for kind in ["container", "network"] {
        let kept: Vec<String> = listed(kind, &[&label, "label=todobackend.worker"])
            .iter()
            .map(|line| name(line))
            .collect();
        left.extend(
            listed(kind, &[&label])
                .into_iter()
                .filter(|line| !kept.contains(&name(line)))
                .map(|line| format!("{kind} {line}")),
        );
    }
    left
}

/// The names of the checkout's running containers (none when the engine cannot say).
pub fn running_containers(checkout: &Checkout) -> Vec<String> {
    let label = format!("label={}", checkout.label());
    let filters = ["--filter", &label, "--filter", "status=running"];
    checkout
        .docker_lines(&[&["container", "ls"][..], &filters, &["--format", "{{.Names}}"]].concat())
        .unwrap_or_default()
}

/// The checkout's test worker and its network, where they are.
pub fn the_worker(checkout: &Checkout) -> Vec<String> {
    let label = format!("label={}", checkout.label());
    let mut kept = Vec::new();
    for kind in ["container", "network"] {
        let mut args = vec![kind, "ls", "--filter", &label, "--filter", "label=todobackend.worker"];
        if kind == "container" {
            args.push("--all");
        }
        args.extend(["--format", "{{.Names}}"]);
        if kind == "network" {
            *args.last_mut().unwrap() = "{{.Name}}";
        }
        kept.extend(checkout.docker_lines(&args).unwrap_or_else(|failed| vec![failed]));
    }
    kept
}

/// Polls every 0.5 s until the engine holds nothing labelled with `checkout`, for at most
/// `within`; what is still there then (empty: nothing was left).
pub fn wait_until_nothing_left(checkout: &Checkout, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = left_on_engine(checkout);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
