use super::*;
use crate::engine::Builder;
use crate::engine::cmd::Cmd;

#[test]
fn the_bench_asks_an_image_s_size_a_container_s_addresses_and_stops_it_gracefully() {
    assert_eq!(
        image_size("todobackend-release").to_string(),
        "docker image inspect --format '{{.Size}}' todobackend-release"
    );
    assert_eq!(
        container_address("app").to_string(),
        "docker container inspect --format '{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}' app"
    );
    assert_eq!(stop("app").to_string(), "docker stop app");
}

#[test]
fn a_container_s_address_is_asked_on_one_network() {
    assert_eq!(
        argv(container_address_on("run-db", "run")),
        [
            "docker",
            "container",
            "inspect",
            "--format",
            r#"{{(index .NetworkSettings.Networks "run").IPAddress}}"#,
            "run-db"
        ]
    );
}

fn argv(cmd: impl Into<Cmd>) -> Vec<String> {
    let cmd = cmd.into();
    std::iter::once(cmd.program.to_string()).chain(cmd.args).collect()
}

#[test]
fn the_engine_check_asks_the_client_the_server_in_docker_s_or_podman_s_terms_and_the_context() {
    assert_eq!(
        argv(engine_facts()),
        [
            "docker",
            "version",
            "--format",
            "{{.Client.Version}}|{{.Client.GitCommit}}|{{.Client.Context}}|\
             {{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
        ]
    );
    assert_eq!(argv(client_version()), ["docker", "--version"]);
    assert_eq!(
        argv(server_facts(false)),
        [
            "docker",
            "version",
            "--format",
            "{{.Server.Version}}|{{range .Server.Components}}{{.Name}};{{end}}"
        ]
    );
    assert_eq!(
        argv(server_facts(true)),
        ["docker", "version", "--format", "{{.Server.Version}}"]
    );
    assert_eq!(
        argv(context_endpoint()),
        [
            "docker",
            "context",
            "inspect",
            "--format",
            "{{.Name}}|{{.Endpoints.docker.Host}}"
        ]
    );
}

#[test]
fn build_uses_the_root_as_context_and_passes_build_args() {
    let build = Build::new("todobackend-base", "docker/base/Dockerfile").build_arg("OS_IMAGE", "debian:bookworm-slim");
    assert_eq!(
        argv(build),
        [
            "docker",
            "build",
            "-t",
            "todobackend-base",
            "-f",
            "docker/base/Dockerfile",
            "--force-rm",
            "--build-arg",
            "OS_IMAGE=debian:bookworm-slim",
            ".",
        ]
    );
}

#[test]
fn only_a_classic_build_runs_again_and_only_when_its_cached_image_went() {
    let build = || Build::new("todobackend-base", "docker/base/Dockerfile");
    let classic = Cmd::from(build().built_by(Builder::Classic));
    assert_eq!(classic.race, Some(&CACHE_PRUNED));
    for builder in [Builder::BuildKit, Builder::Buildah] {
        assert_eq!(Cmd::from(build().built_by(builder)).race, None);
    }
    // What the classic builder (Docker 20.10) said, each step's image removed at another point
    let id = "sha256:78da29c9d00d61fbcba6dce684fbe7ffd7fb8dafde449b4abfcda8f110ddd533";
    let lost = [
        format!(
            "failed to get digest {id}: open /var/lib/docker/image/overlay2/imagedb/content/{id}: no such file or directory"
        ),
        format!("failed to export image: failed to set parent {id}: unknown parent image ID {id}"),
        format!("No such image: {id}"),
        format!("unable to find image \"{id}\""),
    ];
    for said in lost {
        assert!(CACHE_PRUNED.lost(&format!("Step 4/16 : LABEL a=b\n{said}\n")), "{said}");
    }
    let failed = [
        "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist",
        "The command '/bin/sh -c apt-get install x' returned a non-zero code: 100",
        "Error response from daemon: No such image: todobackend-os:bookworm",
    ];
    for said in failed {
        assert!(!CACHE_PRUNED.lost(said), "{said}");
    }
}

#[test]
fn a_stage_is_built_alone_under_its_own_name() {
    let build = Build::new("todobackend-tools", "docker/dev/Dockerfile")
        .stage("tools")
        .iidfile("tools.iid");
    assert_eq!(
        argv(build),
        [
            "docker",
            "build",
            "--target",
            "tools",
            "-t",
            "todobackend-tools",
            "-f",
            "docker/dev/Dockerfile",
            "--force-rm",
            "--iidfile",
            "tools.iid",
            ".",
        ]
    );
}

#[test]
fn run_puts_options_before_the_image_and_secrets_in_the_environment() {
    let run = Run::new("todobackend-db")
        .detach()
        .remove_after()
        .name("run-db")
        .labels(&[("todobackend.run".into(), "run".into())])
        .network("run", Some("db"))
        .tmpfs("/var/lib/mysql")
        .host("cache-db", "10.89.0.2")
        .volumes_from("cache")
        .publish("127.0.0.1:8000:8000")
        .env("MYSQL_USER", "todo")
        .secret("MYSQL_PASSWORD", "hunter2")
        .command(["mariadbd", "--verbose"]);
    let cmd: Cmd = run.into();
    assert_eq!(
        argv(cmd.clone()),
        [
            "docker",
            "run",
            "--detach",
            "--rm",
            "--name",
            "run-db",
            "--label",
            "application=todobackend",
            "--label",
            "todobackend.run=run",
            "--network",
            "run",
            "--network-alias",
            "db",
            "--add-host",
            "cache-db:10.89.0.2",
            "--tmpfs",
            "/var/lib/mysql",
            "--volumes-from",
            "cache",
            "-p",
            "127.0.0.1:8000:8000",
            "-e",
            "MYSQL_USER=todo",
            "-e",
            "MYSQL_PASSWORD",
            "todobackend-db",
            "mariadbd",
            "--verbose",
        ]
    );
    // The password travels in the client's environment only.
    assert_eq!(cmd.secrets, [("MYSQL_PASSWORD".to_string(), "hunter2".to_string())]);
}

#[test]
fn a_readiness_probe_repeats_in_the_container_as_an_argument_of_a_bounded_loop() {
    let probe = exec_until(
        "run-db",
        r#"MYSQL_PWD="$MYSQL_PASSWORD" mysql -e "SELECT 1" # it's up"#,
        std::time::Duration::from_millis(20),
        250,
    );
    assert_eq!(
        argv(probe),
        [
            "docker",
            "exec",
            "run-db",
            "sh",
            "-c",
            r#"n=250; until sh -c "$1" >/dev/null 2>&1; do n=$((n - 1)); [ "$n" -gt 0 ] || exit 1; sleep 0.020; done"#,
            "probe",
            r#"MYSQL_PWD="$MYSQL_PASSWORD" mysql -e "SELECT 1" # it's up"#,
        ]
    );
}

#[test]
fn a_published_port_and_copies_in_and_out_name_the_container() {
    let run = Run::new("todobackend-release")
        .name("run-app")
        .publish("127.0.0.1::8000");
    assert_eq!(
        argv(run),
        [
            "docker",
            "run",
            "--name",
            "run-app",
            "--label",
            "application=todobackend",
            "-p",
            "127.0.0.1::8000",
            "todobackend-release",
        ]
    );
    assert_eq!(
        argv(copy_in("acceptance", "run-acceptance", "/acceptance")),
        ["docker", "cp", "acceptance", "run-acceptance:/acceptance"]
    );
    assert_eq!(
        argv(port("run-app", "8000/tcp")),
        ["docker", "port", "run-app", "8000/tcp"]
    );
}

#[test]
fn login_takes_the_password_on_stdin_and_never_shows_it() {
    let cmd = login("127.0.0.1:5000", "ci", "hunter2");
    assert_eq!(
        argv(cmd.clone()),
        [
            "docker",
            "login",
            "--username",
            "ci",
            "--password-stdin",
            "127.0.0.1:5000"
        ]
    );
    assert_eq!(cmd.input.as_deref(), Some("hunter2\n"));
    assert!(!cmd.to_string().contains("hunter2"), "{cmd}");
    assert!(cmd.secrets.is_empty() && cmd.env.is_empty());
}

#[test]
fn a_volume_container_is_named_and_overrides_the_entrypoint() {
    let run = Run::new("todobackend-dev")
        .name("cache")
        .volume("todobackend-cache:/cache")
        .entrypoint("true");
    assert_eq!(
        argv(run),
        [
            "docker",
            "run",
            "--name",
            "cache",
            "--label",
            "application=todobackend",
            "-v",
            "todobackend-cache:/cache",
            "--entrypoint",
            "true",
            "todobackend-dev",
        ]
    );
}

#[test]
fn listings_take_every_filter_and_containers_include_stopped_ones() {
    assert_eq!(
        argv(names(Kind::Container, &["label=todobackend.run=r", "volume=v"])),
        [
            "docker",
            "container",
            "ls",
            "--all",
            "--filter",
            "label=todobackend.run=r",
            "--filter",
            "volume=v",
            "--format",
            "{{.Names}}"
        ]
    );
    let names = ["n1".to_string(), "n2".to_string()];
    assert_eq!(
        argv(label_values(Kind::Network, &names, "todobackend.run")),
        [
            "docker",
            "network",
            "inspect",
            "--format",
            r#"{{index .Labels "todobackend.run"}}"#,
            "n1",
            "n2"
        ]
    );
    assert_eq!(
        argv(label_values(Kind::Container, &names[..1], "todobackend.run")),
        [
            "docker",
            "container",
            "inspect",
            "--format",
            r#"{{index .Config.Labels "todobackend.run"}}"#,
            "n1"
        ]
    );
}

#[test]
fn consecutive_container_removals_become_one() {
    let cmds = [
        remove_container("run-test"),
        remove_container("run-db"),
        remove_network("run"),
        remove_container("run-other"),
    ];
    assert_eq!(
        merge_removals(cmds).iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "docker rm --force --volumes run-test run-db",
            "docker network rm run",
            "docker rm --force --volumes run-other",
        ]
    );
}

#[test]
fn a_dry_run_knows_which_image_a_command_makes() {
    let build = Build::new("todobackend-base", "docker/base/Dockerfile").build_arg("OS_IMAGE", "x");
    assert_eq!(image_made_by(&build.into()), Some("todobackend-base"));
    assert_eq!(
        image_made_by(&pull("debian:bookworm-slim")),
        Some("debian:bookworm-slim")
    );
    assert_eq!(
        image_made_by(&import("rootfs.tar", "todobackend-os:bookworm")),
        Some("todobackend-os:bookworm")
    );
    assert_eq!(image_made_by(&remove_volume("todobackend-cache")), None);
}

#[test]
fn volume_at_names_the_volume_mounted_at_a_path() {
    assert_eq!(
        argv(volume_at("cache", "/cache")),
        [
            "docker",
            "container",
            "inspect",
            "--format",
            r#"{{range .Mounts}}{{if eq .Destination "/cache"}}{{.Name}}{{end}}{{end}}"#,
            "cache"
        ]
    );
}

#[test]
fn import_labels_the_os_image() {
    assert_eq!(
        argv(import("rootfs.tar", "todobackend-os:bookworm")),
        [
            "docker",
            "import",
            "--change",
            "LABEL application=todobackend",
            "--change",
            "LABEL todobackend.image=os",
            "--change",
            r#"CMD ["bash"]"#,
            "rootfs.tar",
            "todobackend-os:bookworm",
        ]
    );
}

#[test]
fn a_stack_is_deployed_with_the_registry_s_login_and_its_tasks_asked_of_the_manager() {
    assert_eq!(
        argv(stack_deploy("target/deploy/s.yml", "s")),
        [
            "docker",
            "stack",
            "deploy",
            "--with-registry-auth",
            "--prune",
            "--compose-file",
            "target/deploy/s.yml",
            "s"
        ]
    );
    assert_eq!(
        running_tasks("s_app").to_string(),
        "docker service ps --no-trunc --filter desired-state=running --format '{{.Node}}|{{.Image}}|{{.CurrentState}}' s_app"
    );
    assert_eq!(
        restart_service("s_db").to_string(),
        "docker service update --force --detach=false --quiet s_db"
    );
    assert_eq!(
        service_images(&["s_db".into(), "s_edge".into()]).to_string(),
        "docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' s_db s_edge"
    );
}
