//! What the deploy section measured, and its goals.

use std::time::Duration;

use super::{CONNECTIONS, Figures, ITEMS, REPLICAS};
use crate::bench::wrk::Load;
use crate::console::show;

/// A wrk run's requests, errors and p99 (ms); nothing for one that did not run.
fn seen(load: &Option<Load>) -> (u64, u64, f64) {
    load.as_ref().map_or((0, 0, f64::NAN), |load| {
        (load.requests, load.errors(), load.p99.as_secs_f64() * 1e3)
    })
}

/// The section's figures, and whether each goal is met.
pub fn report(figures: &Figures) {
    let (_, _, before_p99) = seen(&figures.before);
    let (update_requests, update_errors, update_p99) = seen(&figures.update);
    let (_, rollback_errors, _) = seen(&figures.rollback);
    let (_, cut, _) = seen(&figures.cut);
    let (_, after_cut, _) = seen(&figures.after_cut);
    show!(
        "\ndeploy on a 3-node swarm on this machine, {REPLICAS} replicas; GET /todos through the manager's edge, \
         wrk -c{CONNECTIONS} (timeout 2 s) during each step"
    );
    show!(
        "{:<44} {:>9} {:>9} {:>12}  errors: socket (timeout 2 s included) + non-2xx",
        "",
        "requests",
        "errors",
        "p99"
    );
    for (what, load) in [
        ("before the update", &figures.before),
        ("during the rolling update", &figures.update),
        ("during the failed release", &figures.rollback),
        ("first 5 s after a worker is cut", &figures.cut),
        ("after those 5 s", &figures.after_cut),
    ] {
        let (requests, errors, p99) = seen(load);
        let kinds = load.as_ref().map_or(String::new(), |load| {
            format!("{} + {}", load.socket_errors, load.non_2xx)
        });
        show!("{what:<44} {requests:>9} {errors:>9} {p99:>9.1} ms  {kinds}");
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

    #[test]
    fn a_run_gives_its_requests_errors_and_p99_in_ms_and_a_missing_one_nothing() {
        let load = Load {
            requests_per_sec: 0.0,
            p99: Duration::from_millis(90),
            requests: 150,
            socket_errors: 1,
            non_2xx: 2,
        };
        assert_eq!(seen(&Some(load)), (150, 3, 90.0));
        let (requests, errors, p99) = seen(&None);
        assert!((requests, errors) == (0, 0) && p99.is_nan());
    }
}
