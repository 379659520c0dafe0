//! Requests through the edges, as a deploy's users send them, counted at the client.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::PORT;

/// An HTTP/1.0 request to `address:PORT`: the status and the head, or `None` when nothing
/// answered in time.
pub fn request(address: &str, method: &str, path: &str, json: Option<&str>) -> Option<(u16, String, String)> {
    crate::support::try_http_at(address, PORT, method, path, json)
}

/// Steady requests through the edges of `addresses`, two clients, each waiting for its answer:
/// one reads the list, one adds to it ten times a second (each item titled with the load's number and its own:
/// a write lost or made twice shows in the list). What a deploy does to the users, counted at the client.
pub struct Load {
    pub stop: Arc<AtomicBool>,
    pub clients: Vec<JoinHandle<Counted>>,
    pub started: Instant,
}

/// The loads so far, each with a title of its own for what it writes.
pub static LOADS: AtomicUsize = AtomicUsize::new(0);

#[derive(Default, Debug)]
pub struct Counted {
    pub answered: usize,
    /// When each request that failed or answered 5xx was sent, after the load started.
    pub failed: Vec<(Duration, String)>,
    pub versions: BTreeSet<String>,
    /// The items the writer was told were created (201), and the title they begin with.
    pub created: usize,
    pub written: String,
}

impl Counted {
    /// How many of this load's items `list` (the body of `GET /todos`) holds.
    pub fn written_in(&self, list: &str) -> usize {
        list.matches(&format!("\"{}", self.written)).count()
    }

    /// Each write the writer was told of is in `list` once: none lost, none made twice.
    pub fn assert_every_write_kept(&self, list: &str) {
        assert_eq!(self.written_in(list), self.created, "writes lost or made twice: {list}");
    }
}

impl Load {
    pub fn start(addresses: &[String]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let written = format!("written under load {}#", LOADS.fetch_add(1, Ordering::Relaxed));
        let clients = (0..2)
            .map(|n| {
                let stop = stop.clone();
                let addresses = addresses.to_vec();
                let written = written.clone();
                std::thread::spawn(move || {
                    let mut counted = Counted {
                        written,
                        ..Counted::default()
                    };
                    let mut i = n;
                    while !stop.load(Ordering::Relaxed) {
                        let address = &addresses[i % addresses.len()];
                        i += 1;
                        let at = started.elapsed();
                        let writes = n == 1;
                        let answer = if writes {
                            // Ten a second: enough to meet every moment of a deploy, few enough
                            // that the list the reader gets stays short
                            std::thread::sleep(Duration::from_millis(100));
                            let item = format!(r#"{{"title": "{}{i}"}}"#, counted.written);
                            request(address, "POST", "/todos", Some(&item))
                        } else {
                            request(address, "GET", "/todos", None)
                        };
                        match answer {
                            Some((status, head, _)) if status == if writes { 201 } else { 200 } => {
                                counted.answered += 1;
                                counted.created += usize::from(writes);
                                if let Some(version) = head
                                    .lines()
                                    // Any case: HAProxy sends header names in lower case
                                    .find_map(|line| {
                                        let (name, value) = line.split_once(':')?;
                                        name.eq_ignore_ascii_case("X-Todobackend-Version").then_some(value)
                                    })
                                {
                                    counted.versions.insert(version.trim().to_string());
                                }
                            }
                            Some((status, _, _)) => counted.failed.push((at, format!("{address}: {status}"))),
                            None => counted.failed.push((at, format!("{address}: no answer"))),
                        }
                    }
                    counted
                })
            })
            .collect();
        Load { stop, clients, started }
    }

    pub fn stop(self) -> Counted {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Counted::default();
        for client in self.clients {
            let counted = client.join().unwrap();
            all.answered += counted.answered;
            all.failed.extend(counted.failed);
            all.versions.extend(counted.versions);
            all.created += counted.created;
            all.written = counted.written;
        }
        let _ = self.started;
        all
    }
}
