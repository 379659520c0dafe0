//! The reports: two runs at once in one checkout each leave a complete set, and a missing
//! coverage report is named, failing the run under CI.

use std::fs;

use crate::support;
use crate::support::{A_RUN_ENDS_WITHIN, Checkout, Finished, Running, run_to_end, tests_ran};

#[test]
fn two_runs_in_one_checkout_each_leave_a_complete_set_of_reports() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("two-runs");
    let reports = copy.root().join("target/reports");
    // Two runs interleave their copy-outs only now and then: several rounds, each from no reports.
    for round in 1..=20 {
        let _ = fs::remove_dir_all(&reports);
        let runs = [(); 2].map(|()| Running::start(copy.xtask(&["test"])));
        let finished: Vec<Finished> = runs.into_iter().map(|run| run.finish(A_RUN_ENDS_WITHIN)).collect();

        let mut ran = Vec::new();
        for run in &finished {
            assert_eq!(run.code(), Some(0), "round {round}: {}:\n{}", run.how(), run.output());
            ran.push(tests_ran(&run.output()));
        }
        assert_eq!(ran[0], ran[1], "round {round}: the two runs ran different suites");
        let mut entries: Vec<String> = fs::read_dir(&reports)
            .unwrap_or_else(|err| panic!("round {round}: {}: {err}", reports.display()))
            .map(|entry| {
                let entry = entry.unwrap();
                let slash = if entry.path().is_dir() { "/" } else { "" };
                format!("{}{slash}", entry.file_name().to_string_lossy())
            })
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["coverage.xml", "junit.xml"],
            "round {round}: target/reports/ after two runs at once in {}",
            copy.root().display()
        );
        let junit = fs::read_to_string(reports.join("junit.xml")).unwrap();
        assert_eq!(junit.matches("<testcase ").count(), ran[0], "round {round}:\n{junit}");
        let coverage = fs::read_to_string(reports.join("coverage.xml")).unwrap();
        assert!(coverage.contains("<coverage "), "round {round}:\n{coverage}");
    }
}

/// A line that names coverage.xml other than the one that says the reports are there.
fn names_coverage_xml(finished: &Finished) -> bool {
    finished.has_line(|line| line.contains("coverage.xml") && !line.contains("are in"))
}

#[test]
fn a_missing_coverage_report_is_named_and_fails_the_run_under_ci() {
    let Some(_engine) = support::engine() else { return };
    let copy = Checkout::copy("no-coverage");
    // Coverage measures a package that is never imported: `coverage xml` writes nothing.
    copy.write("src/.coveragerc", "[run]\nsource = nosuchpackage\n");

    // Under CI the run builds the copy's own dev image from its source.
    let mut ci = copy.xtask(&["test"]);
    ci.env("CI", "true");
    let ci = run_to_end(ci, A_RUN_ENDS_WITHIN);
    let mut local = copy.xtask(&["test"]);
    local.env_remove("CI");
    let local = run_to_end(local, A_RUN_ENDS_WITHIN);

    let mut wrong = Vec::new();
    let ci_out = ci.output();
    if !matches!(ci.code(), Some(code) if code != 0) {
        wrong.push(format!("CI=true: {} (want a failure)", ci.how()));
    }
    if !names_coverage_xml(&ci) {
        wrong.push("CI=true: no line names coverage.xml as missing".to_string());
    }
    if ci_out.contains("Reports (junit.xml, coverage.xml) are in") {
        wrong.push("CI=true: it says the reports (junit.xml, coverage.xml) are there".to_string());
    }
    let local_out = local.output();
    if local.code() != Some(0) {
        wrong.push(format!("without CI: {} (want exit code 0)", local.how()));
    }
    if !names_coverage_xml(&local) {
        wrong.push("without CI: no line names coverage.xml as missing".to_string());
    }
    assert!(
        wrong.is_empty(),
        "coverage wrote no coverage.xml:\n{}\n\nThe run with CI=true printed:\n{ci_out}\nThe run without CI printed:\n{local_out}",
        wrong.join("\n")
    );
}
