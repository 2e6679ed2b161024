//! Starts the real `connectors` binary on a temp dir and a free port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `connectors serve` process; killed with SIGKILL when dropped.
pub struct NodeProcess {
    child: Child,
    pub data: PathBuf,
    pub base: String,
    pub client: reqwest::Client,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl NodeProcess {
    /// Starts a node on `data` and waits until its API answers.
    pub async fn start(data: &Path) -> Self {
        Self::start_with_args(data, &[]).await
    }

    /// Starts a node on `data` with extra `serve` arguments (such as
    /// `--grpc-listen` or `--store`) and waits until its API answers.
    pub async fn start_with_args(data: &Path, args: &[String]) -> Self {
        let port = free_port();
        Self::launch(
            data,
            &format!("127.0.0.1:{port}"),
            args,
            format!("http://127.0.0.1:{port}"),
            reqwest::Client::new(),
        )
        .await
    }

    /// Starts a node on `data` that requires the API token `token`
    /// (`--api-token`); its own client sends it.
    pub async fn start_with_token(data: &Path, token: &str) -> Self {
        let port = free_port();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("a header value"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a client");
        Self::launch(
            data,
            &format!("127.0.0.1:{port}"),
            &["--api-token".to_owned(), token.to_owned()],
            format!("http://127.0.0.1:{port}"),
            client,
        )
        .await
    }

    /// Starts a node listening on `listen`, reached at `base` with `client`
    /// (which may carry a token or trust a test CA), and waits until its
    /// API answers.
    pub async fn launch(
        data: &Path,
        listen: &str,
        args: &[String],
        base: String,
        client: reqwest::Client,
    ) -> Self {
        std::fs::create_dir_all(data).expect("create data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("node.log"))
            .expect("open node log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("node.out"))
            .expect("open node output");
        let child = Command::new(env!("CARGO_BIN_EXE_connectors"))
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(listen)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(log)
            .spawn()
            .expect("start the connectors binary");
        let node = Self {
            child,
            data: data.to_owned(),
            base,
            client,
        };
        node.wait_healthy().await;
        node
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/health", self.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node did not become healthy; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the node printed on standard output (console sinks).
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.data.join("node.out")).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("node.log")).unwrap_or_default()
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, no chance to checkpoint.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the process and leaves it
    /// running (or frozen).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("node did not stop after SIGTERM; log:\n{}", self.log());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request and returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).expect("serialize body"));
        }
        let response = request.send().await.expect("request to node");
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("non-JSON answer ({status}): {text}"))
        };
        (status, json)
    }

    /// Sends raw bytes as JSON.
    pub async fn call_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        self.call_typed(method, path, "application/json", body)
            .await
    }

    /// Sends raw bytes declared as `content_type`.
    pub async fn call_typed(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request to node");
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("non-JSON answer ({status}): {text}"));
        (status, json)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Appends `events` (`(stream, type, data)`) in batches of one stream each
    /// and returns the log position of every event, in order.
    pub async fn append(&self, stream: &str, events: &[Value]) -> u64 {
        let (status, body) = self
            .post(
                &format!("/streams/{stream}"),
                &Value::Array(events.to_vec()),
            )
            .await;
        assert_eq!(status, 201, "append to {stream}: {body}");
        body["position"].as_u64().expect("position")
    }

    /// Uploads `guest-examples/dist/<name>.wasm` as module `name`.
    pub async fn upload_example(&self, name: &str) -> Value {
        let bytes = std::fs::read(example(name)).unwrap_or_else(|e| {
            panic!("guest-examples/dist/{name}.wasm is missing ({e}); run guest-examples/build.sh")
        });
        let (status, body) = self
            .call_typed(
                reqwest::Method::PUT,
                &format!("/modules/{name}"),
                "application/wasm",
                bytes,
            )
            .await;
        assert!(
            status == 201 || status == 200,
            "upload {name}: {status} {body}"
        );
        body
    }

    /// Creates a connector and checks the answer.
    pub async fn create_connector(&self, id: &str, definition: Value) -> Value {
        let (status, body) = self.post(&format!("/connectors/{id}"), &definition).await;
        assert_eq!(status, 201, "create {id}: {body}");
        body
    }

    /// Reads the connector's status.
    pub async fn status(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/connectors/{id}")).await;
        assert_eq!(status, 200, "get {id}: {body}");
        body["status"].clone()
    }

    /// Waits (up to a minute) until connector `id` is faulted; returns its
    /// status.
    pub async fn wait_faulted(&self, id: &str) -> Value {
        eventually(
            Duration::from_secs(60),
            &format!("{id} to fault"),
            || async {
                let status = self.status(id).await;
                (status["state"] == "faulted").then_some(status)
            },
        )
        .await
    }

    /// Waits until connector `id` is faulted; returns why.
    pub async fn wait_fault_message(&self, id: &str) -> String {
        status_message(&self.wait_faulted(id).await)
    }

    /// Every event of a stream, forwards (empty when it does not exist).
    pub async fn read_stream(&self, stream: &str) -> Vec<Value> {
        let encoded = stream.replace('$', "%24").replace('/', "%2F");
        let mut events = Vec::new();
        let mut from = 0;
        loop {
            let (status, body) = self
                .get(&format!("/streams/{encoded}?from={from}&count=4096"))
                .await;
            if status == 404 {
                return events;
            }
            assert_eq!(status, 200, "read {stream}: {body}");
            let page = body["events"].as_array().expect("events").clone();
            // A page of large events stops early and says where to go on.
            let done = page.len() < 4096 && body["nextFrom"].is_null();
            if let Some(last) = page.last() {
                from = last["revision"].as_u64().expect("revision") + 1;
            }
            events.extend(page);
            if done {
                return events;
            }
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a built guest example.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/dist")
        .join(format!("{name}.wasm"))
}

/// The `lastError` message of a connector's status (empty when none).
pub fn status_message(status: &Value) -> String {
    status["lastError"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// An event for an append request.
pub fn event(event_type: &str, data: Value) -> Value {
    serde_json::json!({ "eventId": uuid::Uuid::new_v4(), "eventType": event_type, "data": data })
}

/// Waits until `check` returns `Some`, failing after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
