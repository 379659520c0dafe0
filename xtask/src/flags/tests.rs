use super::*;

fn parse_str(args: &[&str]) -> Result<Flags, String> {
    parse(args.iter().map(OsString::from))
}

fn run(task: Task) -> Result<Flags, String> {
    Ok(Flags::Run(Invocation { task, dry_run: false }))
}

#[test]
fn test_defaults_to_the_base_settings() {
    let expected = Task::Test(Test {
        settings: "base".into(),
        baked: false,
        args: vec![],
    });
    assert_eq!(parse_str(&["test"]), run(expected));
}

#[test]
fn test_takes_settings_in_both_spellings_and_passes_on_what_follows_the_separator() {
    let expected = Task::Test(Test {
        settings: "test".into(),
        baked: false,
        args: vec!["todo.tests".into(), "-v".into(), "2".into()],
    });
    assert_eq!(
        parse_str(&["test", "--settings", "test", "--", "todo.tests", "-v", "2"]),
        run(expected)
    );
    let expected = Task::Test(Test {
        settings: "test".into(),
        baked: true,
        args: vec![],
    });
    assert_eq!(parse_str(&["test", "--baked", "--settings=test"]), run(expected));
}

#[test]
fn cache_takes_reset() {
    assert_eq!(parse_str(&["cache"]), run(Task::Cache(Cache { reset: false })));
    assert_eq!(
        parse_str(&["cache", "--reset"]),
        run(Task::Cache(Cache { reset: true }))
    );
}

#[test]
fn every_task_takes_dry_run() {
    let dry = |task| Ok(Flags::Run(Invocation { task, dry_run: true }));
    assert_eq!(
        parse_str(&["clean", "--dry-run", "--all"]),
        dry(Task::Clean(Clean {
            all: true,
            data: false,
            images: false
        }))
    );
    assert_eq!(
        parse_str(&["bench", "--rounds", "2", "--dry-run"]),
        dry(Task::Bench(Bench { rounds: 2, only: None }))
    );
    assert_eq!(
        parse_str(&["bench", "--only", "release", "--rounds", "1"]),
        run(Task::Bench(Bench {
            rounds: 1,
            only: Some(BenchPart::Release)
        }))
    );
    assert_eq!(
        parse_str(&["bench", "--only", "loop"]),
        run(Task::Bench(Bench {
            rounds: 3,
            only: Some(BenchPart::Loop)
        }))
    );
    assert_eq!(
        parse_str(&["bench", "--only", "deploy"]),
        run(Task::Bench(Bench {
            rounds: 3,
            only: Some(BenchPart::Deploy)
        }))
    );
    assert!(parse_str(&["bench", "--only", "cold"]).is_err());
    let test = Task::Test(Test {
        settings: "base".into(),
        baked: false,
        args: vec!["--dry-run".into()],
    });
    assert_eq!(parse_str(&["test", "--dry-run", "--", "--dry-run"]), dry(test));
}

#[test]
fn clean_takes_all_data_and_images() {
    assert_eq!(
        parse_str(&["clean", "--images"]),
        run(Task::Clean(Clean {
            all: false,
            data: false,
            images: true
        }))
    );
    assert_eq!(
        parse_str(&["clean", "--data"]),
        run(Task::Clean(Clean {
            all: false,
            data: true,
            images: false
        }))
    );
    assert_eq!(
        parse_str(&["clean", "--all", "--images"]),
        run(Task::Clean(Clean {
            all: true,
            data: false,
            images: true
        }))
    );
}

#[test]
fn manage_takes_settings_and_passes_on_everything_after_the_separator() {
    let expected = |fresh| {
        Task::Manage(Manage {
            settings: "test".into(),
            fresh,
            args: vec!["migrate".into(), "-v".into(), "2".into()],
        })
    };
    assert_eq!(
        parse_str(&["manage", "--settings", "test", "--", "migrate", "-v", "2"]),
        run(expected(false))
    );
    assert_eq!(
        parse_str(&["manage", "--fresh", "--settings", "test", "--", "migrate", "-v", "2"]),
        run(expected(true))
    );
    assert!(
        parse_str(&["manage", "--", "shell", "--settings=x"])
            .unwrap_err()
            .contains("after `--`")
    );
    assert_eq!(parse_str(&["manage", "-h"]), Ok(Flags::Help(MANAGE_HELP)));
    for args in [&["manage"][..], &["manage", "--"], &["manage", "--settings", "test"]] {
        assert!(
            parse_str(args).unwrap_err().contains("needs a manage.py command"),
            "{args:?}"
        );
    }
    assert!(
        parse_str(&["manage", "migrate"])
            .unwrap_err()
            .contains("goes after `--`")
    );
}

#[test]
fn release_defaults_to_the_release_settings_and_takes_keep() {
    let release = |settings: &str, keep| {
        Task::Release(Release {
            settings: settings.into(),
            keep,
        })
    };
    assert_eq!(parse_str(&["release"]), run(release("release", false)));
    assert_eq!(
        parse_str(&["release", "--keep", "--settings", "test"]),
        run(release("test", true))
    );
    assert_eq!(parse_str(&["release", "--help"]), Ok(Flags::Help(RELEASE_HELP)));
    assert_eq!(
        parse_str(&["release", "--settings"]),
        Err("`--settings` needs a NAME".into())
    );
}

#[test]
fn publish_needs_a_registry_and_takes_a_repository_and_force() {
    assert_eq!(
        parse_str(&["publish", "--registry", "127.0.0.1:5000"]),
        run(Task::Publish(Publish {
            registry: "127.0.0.1:5000".into(),
            repository: "todobackend".into(),
            force: false,
        }))
    );
    assert_eq!(
        parse_str(&[
            "publish",
            "--force",
            "--registry",
            "r.example.com",
            "--repository",
            "team/todo"
        ]),
        run(Task::Publish(Publish {
            registry: "r.example.com".into(),
            repository: "team/todo".into(),
            force: true,
        }))
    );
    assert!(parse_str(&["publish"]).unwrap_err().contains("needs `--registry"));
    for bad in ["http://r.example.com", "r.example.com/x", "r:port", ""] {
        assert!(
            parse_str(&["publish", "--registry", bad])
                .unwrap_err()
                .contains("HOST or HOST:PORT"),
            "{bad}"
        );
    }
    assert!(
        parse_str(&["publish", "--registry", "r", "--repository", "Todo"])
            .unwrap_err()
            .contains("lower-case")
    );
}

#[test]
fn serve_takes_settings_and_a_port() {
    let expected = Task::Serve(Serve {
        settings: "base".into(),
        port: 8000,
    });
    assert_eq!(parse_str(&["serve"]), run(expected));
    let expected = Task::Serve(Serve {
        settings: "test".into(),
        port: 8080,
    });
    assert_eq!(
        parse_str(&["serve", "--port", "8080", "--settings=test"]),
        run(expected)
    );
    for port in ["0", "65536", "http", "-1"] {
        assert_eq!(
            parse_str(&["serve", "--port", port]),
            Err("`--port` needs a port number, 1 to 65535".into())
        );
    }
    assert_eq!(
        parse_str(&["serve", "--", "x"]),
        Err("unexpected argument `--` for `serve`".into())
    );
}

#[test]
fn help_is_given_for_the_tool_and_for_each_task() {
    assert_eq!(parse_str(&["--help"]), Ok(Flags::Help(USAGE)));
    assert_eq!(parse_str(&["help"]), Ok(Flags::Help(USAGE)));
    assert_eq!(parse_str(&["test", "-h"]), Ok(Flags::Help(TEST_HELP)));
    assert_eq!(parse_str(&["dev-image", "--help"]), Ok(Flags::Help(DEV_IMAGE_HELP)));
}

#[test]
fn bad_input_is_refused_with_what_was_wrong() {
    assert_eq!(parse_str(&[]), Err("no task given".into()));
    assert_eq!(parse_str(&["nosuch"]), Err("unknown task `nosuch`".into()));
    assert_eq!(
        parse_str(&["cache", "--rest"]),
        Err("unexpected argument `--rest` for `cache`".into())
    );
    assert_eq!(
        parse_str(&["test", "--settings"]),
        Err("`--settings` needs a NAME".into())
    );
    assert_eq!(
        parse_str(&["test", "--settings", "--", "x"]),
        Err("`--settings` needs a NAME".into())
    );
    assert!(
        parse_str(&["test", "todo.tests"])
            .unwrap_err()
            .contains("go after `--`")
    );
    for settings in ["--settings", "--settings=test"] {
        let err = parse_str(&["test", "--", "todo", settings]).unwrap_err();
        assert!(err.contains(&format!("`{settings}` after `--`")), "{err}");
    }
    assert_eq!(
        parse_str(&["dev-image", "--reset"]),
        Err("unexpected argument `--reset` for `dev-image`".into())
    );
}

#[test]
fn deploy_takes_its_options_one_action_and_a_service_for_its_logs_only() {
    let deploy = |args: &[&str]| match parse(
        std::iter::once("deploy")
            .chain(args.iter().copied())
            .map(OsString::from),
    ) {
        Ok(Flags::Run(Invocation {
            task: Task::Deploy(deploy),
            ..
        })) => Ok(deploy),
        Ok(other) => panic!("{other:?}"),
        Err(err) => Err(err),
    };
    let plain = deploy(&[]).unwrap();
    assert_eq!(
        (plain.action, plain.replicas, plain.port, plain.hosts.as_str()),
        (DeployAction::Deploy, 3, 8080, "*")
    );
    let chosen = deploy(&[
        "--replicas",
        "5",
        "--version",
        "v1.2.0",
        "--port",
        "80",
        "--hosts",
        "todo.example.com",
    ])
    .unwrap();
    assert_eq!(
        (chosen.replicas, chosen.version.as_deref(), chosen.port),
        (5, Some("v1.2.0"), 80)
    );
    assert_eq!(deploy(&["--logs", "db"]).unwrap().service.as_deref(), Some("db"));
    assert_eq!(deploy(&["--rollback"]).unwrap().action, DeployAction::Rollback);
    for (bad, says) in [
        (&["--replicas", "0"][..], "--replicas"),
        (&["--replicas", "21"], "--replicas"),
        (&["--version", "a/b"], "--version"),
        (&["--status", "--logs"], "one of"),
        (&["--status", "db"], "unexpected argument `db`"),
        (&["--logs", "nosuch"], "unexpected argument `nosuch`"),
    ] {
        let err = deploy(bad).unwrap_err();
        assert!(err.contains(says), "{bad:?}: {err}");
    }
}
