//! The cluster under test: members as real `connectors serve` processes of
//! the binary this benchmark was built with (`target/release/connectors`
//! under `cargo bench`), killed with SIGKILL and restarted under the same
//! `--member` name, and the management API calls the benchmark makes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

/// How long a member may take to answer `/health` after it is spawned.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// One member: a process, its data directory and its API port, which stay
/// the same across restarts.
pub struct Member {
    pub name: String,
    data: PathBuf,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Member {
    /// A member named `name` that will run `serve` with `args` on top of its
    /// name, data directory and API address.
    pub fn new(name: &str, data: PathBuf, args: Vec<String>) -> Member {
        Member {
            name: name.to_owned(),
            data,
            port: free_port(),
            args,
            child: None,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Spawns the process and waits until its API answers; returns when it
    /// was spawned and how long it took to answer.
    pub async fn start(&mut self, http: &reqwest::Client) -> (Instant, Duration) {
        std::fs::create_dir_all(&self.data).expect("create the data directory");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.join("member.log"))
            .expect("open the member's log");
        let spawned = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_connectors"))
            .arg("serve")
            .arg("--data")
            .arg(&self.data)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--member", &self.name])
            .args(&self.args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the connectors binary");
        self.child = Some(child);
        let health = format!("{}/health", self.base());
        loop {
            let answer = http.get(&health).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return (spawned, spawned.elapsed());
            }
            assert!(
                spawned.elapsed() < START_DEADLINE,
                "{} did not answer /health within {START_DEADLINE:?}; see {}",
                self.name,
                self.data.join("member.log").display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL; returns when it was sent.
    pub fn kill(&mut self) -> Instant {
        let killed = Instant::now();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        killed
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("a local address").port()
}

/// One entry of `GET /members`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub member: String,
    pub alive: bool,
    pub runs_connectors: bool,
    #[serde(default)]
    pub connectors: Vec<String>,
}

/// The management API of one member.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {url}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "POST {url}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn members(&self) -> Vec<MemberView> {
        serde_json::from_value(self.get("/members").await).expect("the members as documented")
    }

    /// Creates connector `id`, enabled, delivering `prefix`-streams to `url`
    /// and running on any member.
    pub async fn create_connector(&self, id: &str, url: &str, prefix: &str) {
        let definition = json!({
            "sink": { "type": "http", "url": url },
            "filter": { "streams": { "prefixes": [prefix] } },
            "affinity": "any"
        });
        self.post(&format!("/connectors/{id}"), &definition).await;
    }

    /// Appends one small JSON event to `stream`.
    pub async fn append_one(&self, stream: &str, n: u64) -> Result<(), String> {
        let events = json!([{ "eventType": "Tick", "data": { "n": n } }]);
        let url = format!("{}/streams/{stream}", self.base);
        let response = self
            .http
            .post(&url)
            .json(&events)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(format!(
                "{status}: {}",
                response.text().await.unwrap_or_default()
            )),
        }
    }

    /// Up to `count` events of `stream` from revision `from`, forwards.
    pub async fn read(&self, stream: &str, from: u64, count: usize) -> Vec<Value> {
        let path = format!("/streams/{}?from={from}&count={count}", url_escape(stream));
        match self.get(&path).await["events"].as_array() {
            Some(events) => events.clone(),
            None => Vec::new(),
        }
    }

    /// The revision of the last event of `stream` (None when it is empty).
    pub async fn last_revision(&self, stream: &str) -> Option<u64> {
        let path = format!(
            "/streams/{}?direction=backwards&from=end&count=1",
            url_escape(stream)
        );
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).send().await.ok()?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let body: Value = response.json().await.ok()?;
        body["events"].get(0)?["revision"].as_u64()
    }
}

/// `$` and `/` escaped for a path segment.
fn url_escape(stream: &str) -> String {
    stream.replace('$', "%24").replace('/', "%2F")
}

/// Who owns each connector, when every member of `workers` is alive and
/// runs within one connector of the mean, and each of `connectors`
/// connectors is listed once.
pub fn balanced_owners(
    members: &[MemberView],
    workers: &[String],
    connectors: usize,
) -> Option<HashMap<String, String>> {
    let running: Vec<&MemberView> = members
        .iter()
        .filter(|m| m.alive && m.runs_connectors)
        .collect();
    if running.len() != workers.len()
        || !workers
            .iter()
            .all(|w| running.iter().any(|m| &m.member == w))
    {
        return None;
    }
    let mean = connectors as f64 / running.len() as f64;
    if running
        .iter()
        .any(|m| (m.connectors.len() as f64 - mean).abs() > 1.0)
    {
        return None;
    }
    let mut owners = HashMap::new();
    for member in &running {
        for id in &member.connectors {
            if owners.insert(id.clone(), member.member.clone()).is_some() {
                return None;
            }
        }
    }
    (owners.len() == connectors).then_some(owners)
}
