//! The runner's first question: what answers `docker`, asked once a run, with a task's first
//! questions beside it. Pure process work, before the run has changed anything.

use std::process::Stdio;

use anyhow::{Context, Result, bail};

use super::process::{ENGINE_ANSWER, Finished, Group, Processes, READ, Wait};
use crate::engine::cmd::Cmd;
use crate::engine::docker;
use crate::engine::{self, Engine};

/// What the check found: the engine, and the answers to the questions asked beside it.
pub struct Checked {
    pub engine: Engine,
    pub ahead: Vec<(Cmd, Finished)>,
}

/// The engine check's questions: quick, and stopped by a signal.
const ASKING: Wait = Wait {
    deadline: ENGINE_ANSWER,
    interruptible: true,
};

/// What the engine is; fails with what to do when none answers (every task needs one).
/// Kept for the rest of the run (`engine`). One call answers it where `docker` is Docker's
/// client and the engine answers (`docker::engine_facts`: the client, its context, the
/// server); only a context other than the default one is asked its endpoint after. Where
/// that call fails (Podman's `docker`, which knows no such template, or no engine), the
/// client's version and the context's endpoint say which, and Podman's is asked the
/// server in its own terms.
///
/// `ahead` is asked at once: the questions a task asks first, where they do not depend on
/// what the engine is (see `Runner::check_engine_and_ask`).
pub fn check(processes: &Processes, ahead: &[Cmd]) -> Result<Checked> {
    let from_host = std::env::var("DOCKER_HOST").is_ok_and(|host| !host.is_empty());
    let questions = [&[docker::engine_facts()], ahead].concat();
    let mut answers = processes.execute_all(&questions, true, ASKING, Group::Apart(0))?;
    let answered_ahead = answers.split_off(1);
    let facts = answers.pop().context("an answer went missing")?;
    let docker_s = facts.ok().then(|| engine::docker_facts(&facts.stdout)).flatten();
    let (client, context, finished) = match docker_s {
        Some(engine::DockerFacts {
            client,
            context,
            server,
        }) => {
            let context = match context {
                _ if from_host => String::new(),
                name if name == "default" => format!("default|{}", engine::DEFAULT_ENDPOINT),
                _ => context_endpoint(processes)?,
            };
            let finished = Finished {
                stdout: server,
                ..facts
            };
            (client, context, finished)
        }
        None => which_engine(processes, facts, from_host)?,
    };
    if finished.status.is_none() {
        let endpoint = Some(Engine::new(&client, "", &context).endpoint)
            .filter(|endpoint| !endpoint.is_empty())
            .unwrap_or_else(|| "the default socket".into());
        bail!(
            "the Docker engine at {endpoint} did not answer within {} s: it accepts connections but says nothing. \
             Check that DOCKER_HOST or the docker context points at a Docker engine and that it is healthy, \
             then run this again.",
            ENGINE_ANSWER.as_secs()
        );
    }
    if !finished.ok() {
        let why = finished
            .stderr
            .lines()
            .find(|line| !line.trim().is_empty())
            .unwrap_or("no answer");
        if why.contains("Failed to initialize") || why.contains("context not found") {
            bail!(
                "the docker client cannot start: {why}\n\
                 Check DOCKER_CONTEXT, DOCKER_HOST and `docker context ls`, then run this again."
            );
        }
        bail!(
            "the Docker engine is not answering: {why}\n\
             Start it (`sudo systemctl start docker`, or `sudo dockerd &`), \
             or point DOCKER_HOST at a running engine, then run this again."
        );
    }
    // One out of time is asked again when the task asks it, under its own deadline
    let ahead = ahead
        .iter()
        .cloned()
        .zip(answered_ahead)
        .filter(|(_, answer)| answer.status.is_some())
        .collect();
    Ok(Checked {
        engine: Engine::new(&client, &finished.stdout, &context),
        ahead,
    })
}

/// Where `docker::engine_facts` failed (`facts`): the client's version line, the
/// context's endpoint and the server's answer, asked apart. Podman's `docker` fails it
/// for its template, and answers `docker::server_facts(true)`; Docker's failed it for want
/// of an engine, and `facts` says why.
fn which_engine(processes: &Processes, facts: Finished, from_host: bool) -> Result<(String, String, Finished)> {
    let mut questions = vec![docker::client_version()];
    if !from_host {
        questions.push(docker::context_endpoint());
    }
    let text = |answer: Option<Finished>| {
        answer
            .filter(Finished::ok)
            .map(|finished| finished.stdout.trim().to_string())
            .unwrap_or_default()
    };
    let mut answers = processes
        .execute_all(&questions, true, ASKING, Group::Apart(0))?
        .into_iter();
    let (client, context) = (text(answers.next()), text(answers.next()));
    if engine::is_podman_client(&client) {
        return Ok((client, String::new(), read(processes, &docker::server_facts(true))?));
    }
    // An answer in another shape (a client that is neither): asked as Docker's
    let finished = match facts.ok() {
        true => read(processes, &docker::server_facts(false))?,
        false => facts,
    };
    Ok((client, context, finished))
}

fn read(processes: &Processes, cmd: &Cmd) -> Result<Finished> {
    processes.execute(cmd, Stdio::null(), true, ASKING, Group::Apart(0))
}

/// The docker context's name and endpoint (`NAME|ENDPOINT`), empty when the client cannot say.
fn context_endpoint(processes: &Processes) -> Result<String> {
    let cmd = docker::context_endpoint();
    let wait = Wait {
        deadline: READ,
        ..ASKING
    };
    let answer = processes.execute(&cmd, Stdio::null(), true, wait, Group::Apart(0))?;
    if answer.status.is_none() {
        bail!(
            "`{cmd}` did not finish within {} s: is the docker client hung?",
            READ.as_secs()
        );
    }
    Ok(match answer.ok() {
        true => answer.stdout.trim().to_string(),
        false => String::new(),
    })
}
