//! What the deploy section measured, and its goals: the windows' worst p99 and errors.

use std::time::Duration;

use super::{CONNECTIONS, Figures, ITEMS, REPLICAS, WINDOW_SECONDS};
use crate::bench::wrk::Load;
use crate::console::show;

/// The worst p99 of `loads`' windows, and all their errors.
fn worst(loads: &[Load]) -> (f64, u64, u64) {
    let p99 = loads
        .iter()
        .map(|load| load.p99.as_secs_f64() * 1e3)
        .fold(0.0, f64::max);
    let errors = loads.iter().map(Load::errors).sum();
    let requests = loads.iter().map(|load| load.requests).sum();
    (p99, errors, requests)
}

/// The section's figures, and whether each goal is met.
pub fn report(figures: &Figures) {
    let (before_p99, before_errors, before_requests) = worst(&figures.before);
    let (update_p99, update_errors, update_requests) = worst(&figures.update);
    let (_, rollback_errors, rollback_requests) = worst(&figures.rollback);
    let cut = figures.lost.first().map_or(0, Load::errors);
    let (_, after_cut, lost_requests) = worst(figures.lost.get(1..).unwrap_or_default());
    show!(
        "\ndeploy on a 3-node swarm on this machine, {REPLICAS} replicas; GET /todos through the manager's edge, \
         wrk -c{CONNECTIONS} in {WINDOW_SECONDS} s windows"
    );
    show!("{:<44} {:>9} {:>9} {:>12}", "", "requests", "errors", "worst p99");
    for (what, requests, errors, p99) in [
        ("before the update", before_requests, before_errors, Some(before_p99)),
        (
            "during the rolling update",
            update_requests,
            update_errors,
            Some(update_p99),
        ),
        ("during the failed release", rollback_requests, rollback_errors, None),
        (
            "first 5 s after a worker is cut",
            figures.lost.first().map_or(0, |l| l.requests),
            cut,
            None,
        ),
        ("after those 5 s", lost_requests, after_cut, None),
    ] {
        let p99 = p99.map_or("-".to_string(), |p99| format!("{p99:.1} ms"));
        show!("{what:<44} {requests:>9} {errors:>9} {p99:>12}");
    }
    let ratio = update_p99 / before_p99;
    show!("{:<44} {ratio:>32.2}", "p99 during / before");
    show!(
        "{:<44} {:>30.1} s",
        "deploy to every replica on v2",
        figures.update_took.as_secs_f64()
    );
    show!(
        "{:<44} {:>30.1} s (exit {})",
        "failed release: deploy to its error",
        figures.rollback_took.as_secs_f64(),
        figures.rollback_code
    );
    show!(
        "{:<44} {:>30.1} s",
        "database restart to serving again",
        figures.db_restarted_in.as_secs_f64()
    );
    let rescheduled = figures.rescheduled_in.map_or(f64::NAN, |took| took.as_secs_f64());
    show!("{:<44} {rescheduled:>30.1} s", "lost worker's tasks running elsewhere");
    let all_kept = figures.kept.iter().all(|(_, kept)| *kept == ITEMS);
    let kept: Vec<String> = figures
        .kept
        .iter()
        .map(|(after, kept)| format!("{kept} after {after}"))
        .collect();
    show!("items made first ({ITEMS}): {}", kept.join(", "));
    show!("\ndeploy goals:");
    for (what, met, figure) in [
        (
            "rolling update: 0 errors",
            update_errors == 0,
            format!("{update_errors} of {update_requests}"),
        ),
        (
            "rolling update: p99 <= 2 x before",
            ratio <= 2.0,
            format!("{ratio:.2} x"),
        ),
        (
            "rolling update <= 60 s",
            figures.update_took <= Duration::from_secs(60),
            format!("{:.1} s", figures.update_took.as_secs_f64()),
        ),
        (
            "failed release: rolled back, 0 errors",
            rollback_errors == 0 && figures.old_serves,
            format!("{rollback_errors}, old version serving: {}", figures.old_serves),
        ),
        (
            "failed release: deploy exits non-zero <= 90 s",
            figures.rollback_code != 0 && figures.rollback_took <= Duration::from_secs(90),
            format!(
                "exit {} after {:.1} s",
                figures.rollback_code,
                figures.rollback_took.as_secs_f64()
            ),
        ),
        (
            "lost worker: tasks elsewhere <= 30 s",
            rescheduled <= 30.0,
            format!("{rescheduled:.1} s"),
        ),
        (
            "lost worker: 0 errors after the first 5 s",
            after_cut == 0,
            format!("{after_cut} (first 5 s: {cut})"),
        ),
        ("every item made first kept", all_kept, kept.join(", ")),
    ] {
        show!("  {} {what:<46} {figure}", if met { "met   " } else { "MISSED" });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(p99_ms: u64, requests: u64, non_2xx: u64) -> Load {
        Load {
            requests_per_sec: 0.0,
            p99: Duration::from_millis(p99_ms),
            requests,
            socket_errors: 1,
            non_2xx,
        }
    }

    #[test]
    fn the_windows_give_their_worst_p99_and_every_request_and_error() {
        assert_eq!(worst(&[window(30, 100, 0), window(90, 50, 2)]), (90.0, 4, 150));
        assert_eq!(worst(&[]), (0.0, 0, 0));
    }
}
