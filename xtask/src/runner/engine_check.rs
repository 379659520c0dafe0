//! The runner's first question: what answers `docker`, asked once a run, with a task's first
//! questions beside it (`check_engine_and_ask`), and what the client can build with.

use anyhow::{Context, Result, bail};

use super::{ENGINE_ANSWER, Finished, Runner};
use crate::engine::cmd::Cmd;
use crate::engine::docker;
use crate::engine::{self, Builder, Engine};

impl Runner {
    /// What the engine is; fails with what to do when none answers (every task needs one).
    /// Kept for the rest of the run (`engine`). One call answers it where `docker` is Docker's
    /// client and the engine answers (`docker::engine_facts`: the client, its context, the
    /// server); only a context other than the default one is asked its endpoint after. Where
    /// that call fails (Podman's `docker`, which knows no such template, or no engine), the
    /// client's version and the context's endpoint say which, and Podman's is asked the
    /// server in its own terms.
    pub fn check_engine(&self) -> Result<Engine> {
        self.check_engine_and_ask(&[])
    }

    /// `check_engine`, with `ahead` asked at once: the questions a task asks first, where they
    /// do not depend on what the engine is. Their answers wait for the first `read`,
    /// `read_all` or `probe` of the same command, which then asks the engine nothing.
    pub fn check_engine_and_ask(&self, ahead: &[Cmd]) -> Result<Engine> {
        let from_host = std::env::var("DOCKER_HOST").is_ok_and(|host| !host.is_empty());
        let questions = [&[docker::engine_facts()], ahead].concat();
        let mut answers = self.read_all(&questions, ENGINE_ANSWER)?;
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
                    _ => self.probe(&docker::context_endpoint())?.unwrap_or_default(),
                };
                let finished = Finished {
                    stdout: server,
                    ..facts
                };
                (client, context, finished)
            }
            None => self.which_engine(facts, from_host)?,
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
        let engine = Engine::new(&client, &finished.stdout, &context);
        *self.engine.borrow_mut() = Some(engine.clone());
        // One out of time is asked again when the task asks it, under its own deadline
        let in_time = ahead
            .iter()
            .cloned()
            .zip(answered_ahead)
            .filter(|(_, answer)| answer.status.is_some());
        self.asked.borrow_mut().extend(in_time);
        Ok(engine)
    }

    /// Where `docker::engine_facts` failed (`facts`): the client's version line, the
    /// context's endpoint and the server's answer, asked apart. Podman's `docker` fails it
    /// for its template, and answers `docker::server_facts(true)`; Docker's failed it for want
    /// of an engine, and `facts` says why.
    fn which_engine(&self, facts: Finished, from_host: bool) -> Result<(String, String, Finished)> {
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
        let mut answers = self.read_all(&questions, ENGINE_ANSWER)?.into_iter();
        let (client, context) = (text(answers.next()), text(answers.next()));
        if engine::is_podman_client(&client) {
            return Ok((
                client,
                String::new(),
                self.read(&docker::server_facts(true), ENGINE_ANSWER)?,
            ));
        }
        // An answer in another shape (a client that is neither): asked as Docker's
        let finished = match facts.ok() {
            true => self.read(&docker::server_facts(false), ENGINE_ANSWER)?,
            false => facts,
        };
        Ok((client, context, finished))
    }

    /// The engine `check_engine` found.
    pub fn engine(&self) -> Result<Engine> {
        self.engine
            .borrow()
            .clone()
            .context("the engine was not checked before use")
    }

    /// Whether Docker's client has the buildx plugin (BuildKit builds from client 23 on), asked
    /// once.
    pub fn has_buildx(&self) -> Result<bool> {
        if let Some(has) = self.has_buildx.get() {
            return Ok(*has);
        }
        let has = self.probe(&docker::buildx_version())?.is_some();
        Ok(*self.has_buildx.get_or_init(|| has))
    }

    /// What `docker build` builds with.
    pub fn builder(&self) -> Result<Builder> {
        let engine = self.engine()?;
        Ok(engine.builder(engine.builds_through_buildx() && self.has_buildx()?))
    }

    /// Where the client looks for its engine (`unix://...`, `tcp://...`), as best it can tell.
    pub fn endpoint(&self) -> String {
        if let Some(engine) = self.engine.borrow().as_ref() {
            return engine.endpoint.clone();
        }
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => host,
            _ => self
                .probe(&docker::context_endpoint())
                .ok()
                .flatten()
                .map(|answer| answer.rsplit('|').next().unwrap_or_default().to_string())
                .filter(|endpoint| !endpoint.is_empty())
                .unwrap_or_else(|| "the default socket".into()),
        }
    }
}
