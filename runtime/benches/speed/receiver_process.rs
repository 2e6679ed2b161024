//! The parent's side of the receiver process (see `receiver.rs`): starts
//! it, names the URLs the sinks post to, and reads what each run counted.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::receiver::{Counts, Latency, RECEIVER_ROLE, ROLE_VARIABLE};

/// How long one long poll of the receiver lasts at most.
const POLL: Duration = Duration::from_secs(1);

/// The running receiver process (killed when this is dropped).
pub struct ReceiverProcess {
    /// Held so the child's standard input stays open while the parent runs.
    _child: Child,
    base: String,
    http: reqwest::Client,
}

/// A run that did not count its events in time.
#[derive(Debug)]
pub struct Stalled {
    pub counted: u64,
    pub expected: u64,
    pub after: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "only {} of {} events arrived within {:.0} s",
            self.counted,
            self.expected,
            self.after.as_secs_f64()
        )
    }
}

impl ReceiverProcess {
    pub async fn start() -> ReceiverProcess {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let mut child = Command::new(exe)
            .env(ROLE_VARIABLE, RECEIVER_ROLE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the receiver process");
        let stdout = child.stdout.take().expect("the receiver's output");
        let base = BufReader::new(stdout)
            .lines()
            .next_line()
            .await
            .expect("read the receiver's address")
            .expect("the receiver prints its address");
        ReceiverProcess {
            _child: child,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Where a sink of `run` posts: counted, answered at once.
    pub fn url(&self, run: &str) -> String {
        format!("{}/ingest/{run}", self.base)
    }

    /// Where a sink of `run` posts: each request held for `service` first.
    pub fn slow_url(&self, run: &str, service: Duration) -> String {
        format!("{}/ingest/{run}/slow/{}", self.base, service.as_micros())
    }

    /// Where a sink of `run` posts events stamped with their send time.
    pub fn latency_url(&self, run: &str) -> String {
        format!("{}/ingest/{run}/latency", self.base)
    }

    /// Waits until `run` counted `events`, for at most `deadline` from
    /// `since`.
    pub async fn wait_for(
        &self,
        run: &str,
        events: u64,
        since: Instant,
        deadline: Duration,
    ) -> Result<Counts, Stalled> {
        loop {
            let counts = self.poll(run, events, POLL).await;
            if counts.events >= events {
                return Ok(counts);
            }
            if since.elapsed() > deadline {
                return Err(Stalled {
                    counted: counts.events,
                    expected: events,
                    after: since.elapsed(),
                });
            }
        }
    }

    /// What `run` counted so far.
    pub async fn counts(&self, run: &str) -> Counts {
        self.poll(run, 0, Duration::ZERO).await
    }

    /// The latencies `run` recorded.
    pub async fn latencies(&self, run: &str) -> Vec<Latency> {
        self.http
            .get(format!("{}/runs/{run}/latencies", self.base))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("ask the receiver for latencies")
            .json()
            .await
            .expect("the receiver's latencies")
    }

    async fn poll(&self, run: &str, events: u64, wait: Duration) -> Counts {
        self.http
            .get(format!(
                "{}/runs/{run}/wait?events={events}&ms={}",
                self.base,
                wait.as_millis()
            ))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("ask the receiver for counts")
            .json()
            .await
            .expect("the receiver's counts")
    }
}
