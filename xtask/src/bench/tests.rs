use super::*;
use crate::project::DEV_DOCKERFILE;

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
