//! `cargo xtask serve`: migrations first, the server on the loopback with `src/` mounted and its
//! data in volumes of the checkout's; on a remote engine, the baked source on the engine's host.

use crate::expected::{normalized, run};
use crate::fake_docker::{FakeDocker, stderr};

#[test]
fn serve_migrates_then_publishes_the_server_on_the_loopback_with_the_data_in_volumes_of_the_checkout() {
    let fake = FakeDocker::new("serve").env("FAKE_CACHE_VOLUME", "todobackend-cache");
    let root = fake.root();
    let output = fake.xtask_ok(&root.join("src"), &["serve", "--settings", "test", "--port", "8123"]);
    let run = run();
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    // The database's volume is the checkout's, not the run's: made, and never removed.
    let volume = changes
        .iter()
        .find_map(|args| args.strip_prefix("volume create "))
        .and_then(|args| args.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no volume made: {changes:#?}"));
    assert!(
        volume.starts_with("todobackend-") && volume.ends_with("-test-db"),
        "{volume}"
    );
    assert!(
        changes
            .iter()
            .any(|args| args.starts_with(&format!("run --detach --name {run}-db "))
                && args.contains(&format!(" -v {volume}:/var/lib/mysql "))),
        "{changes:#?}"
    );
    // Its passwords are kept with it once it is ready, by name: no value on a command line.
    let calls: Vec<String> = fake.calls().iter().map(|call| normalized(call)).collect();
    let remember = calls
        .iter()
        .find(|call| call.contains(&format!(": exec {run}-db sh -c umask")))
        .unwrap_or_else(|| panic!("the passwords are not kept: {calls:#?}"));
    assert!(
        remember.contains(r#"echo MYSQL_PASSWORD="$MYSQL_PASSWORD";"#)
            && remember.contains("/var/lib/mysql/.todobackend-secrets"),
        "{remember}"
    );
    let migrate = changes
        .iter()
        .position(|args| args.starts_with(&format!("create --name {run}-migrate ")));
    let serve = changes
        .iter()
        .position(|args| args.starts_with(&format!("create --name {run}-serve ")));
    let (Some(migrate), Some(serve)) = (migrate, serve) else {
        panic!("no migrate and serve containers: {changes:#?}");
    };
    assert!(migrate < serve && changes[migrate].ends_with(" python manage.py migrate --noinput"));
    let server = &changes[serve];
    assert!(
        server.contains(" -p 127.0.0.1:8123:8000 ")
            && server.contains(&format!(" -v {}/src:/application ", root.display()))
            && server.contains(" -e MYSQL_HOST=db ")
            && server.ends_with(" python manage.py runserver 0.0.0.0:8000"),
        "{server}"
    );
    assert!(
        !changes.iter().any(|args| args.starts_with("volume rm")),
        "{changes:#?}"
    );
    assert!(
        changes.ends_with(&[
            format!("start --attach {run}-serve"),
            format!("rm --force --volumes {run}-serve {run}-migrate {run}-db"),
            format!("network rm {run}"),
        ]),
        "{changes:#?}"
    );
    let err = stderr(&output);
    assert!(
        err.contains("=> Serving todobackend.settings.test on port 8123"),
        "{err}"
    );
}

#[test]
fn serve_on_a_remote_engine_serves_the_baked_source_on_the_engine_s_host() {
    let fake = FakeDocker::new("serve-remote")
        .env("FAKE_CACHE_VOLUME", "todobackend-cache")
        .env("FAKE_ENDPOINT", "tcp://build-host.invalid:2376");
    let output = fake.xtask_ok(fake.root(), &["serve"]);
    let err = stderr(&output);
    assert!(
        err.contains("cannot see this checkout: serving the source baked into a fresh image"),
        "{err}"
    );
    let changes: Vec<String> = fake.changes().iter().map(|args| normalized(args)).collect();
    let server = changes
        .iter()
        .find(|args| args.contains(" runserver "))
        .unwrap_or_else(|| panic!("{changes:#?}"));
    assert!(
        server.contains(" -p 8000:8000 ") && !server.contains(":/application ") && server.contains(":/data "),
        "{server}"
    );
}
