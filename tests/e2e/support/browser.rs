//! A real headless Chromium driven over the DevTools protocol: open a page,
//! evaluate JavaScript in it, wait for what a person would see, take
//! screenshots (kept under `target/ui-screenshots/`).
//!
//! Debian's `chromium` package is used; when it is missing and `apt-get`
//! can run (as root), it is installed the first time, as the other tests
//! install the official clients they run.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const BINARIES: [&str; 2] = ["chromium", "chromium-browser"];
/// How long one DevTools command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A browser with one page open.
pub struct Browser {
    _child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium with a fresh profile and one page showing `url`.
    pub async fn open(url: &str) -> Browser {
        let binary = chromium().await;
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromium");
        let address = devtools_address(&mut child).await;
        let (socket, _) = tokio_tungstenite::connect_async(address.as_str())
            .await
            .expect("connect to the browser's DevTools");
        let mut browser = Browser {
            _child: child,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let target = browser
            .command("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser
            .command(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser.command("Page.enable", json!({})).await;
        browser.navigate(url).await;
        browser
    }

    /// Goes to `url`.
    pub async fn navigate(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url })).await;
    }

    /// The value of the JavaScript `expression` in the page (promises
    /// awaited); a thrown exception fails the test.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let answer = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = answer.get("exceptionDetails") {
            panic!("`{expression}` threw: {exception}");
        }
        answer["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page (one that throws, e.g.
    /// while the page is still loading, is not true yet); fails after
    /// `timeout` with `what` and a screenshot.
    pub async fn wait_for(&mut self, expression: &str, what: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let guarded = format!("(() => {{ try {{ return ({expression}) === true; }} catch (e) {{ return false; }} }})()");
        loop {
            if self.eval(&guarded).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let shot = self.screenshot(&format!("failed-{}", slug(what))).await;
                let text = self.eval("document.body.innerText").await;
                panic!(
                    "the page never showed {what} (screenshot {}); it shows:\n{text}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the page as `target/ui-screenshots/<name>.png`.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self
            .command("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Sends one DevTools command (to the page once attached) and returns
    /// its result, skipping the events that arrive meanwhile.
    async fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = Value::String(self.session.clone());
        }
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send a DevTools command");
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, async {
            loop {
                let frame = self
                    .socket
                    .next()
                    .await
                    .expect("the browser closed DevTools")
                    .expect("a DevTools message");
                let Message::Text(text) = frame else { continue };
                let value: Value = serde_json::from_str(&text).expect("DevTools JSON");
                if value["id"] == json!(id) {
                    return value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("DevTools `{method}` did not answer"));
        if let Some(error) = answer.get("error") {
            panic!("DevTools `{method}` failed: {error}");
        }
        answer["result"].clone()
    }
}

/// The `ws://` address Chromium prints once its DevTools listen.
async fn devtools_address(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("chromium's stderr");
    let mut lines = BufReader::new(stderr).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        let mut seen = String::new();
        while let Some(line) = lines.next_line().await.expect("read chromium's stderr") {
            if let Some(address) = line.strip_prefix("DevTools listening on ") {
                return Ok(address.trim().to_owned());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        Err(seen)
    })
    .await
    .expect("chromium did not start its DevTools within a minute");
    // Keep draining stderr so Chromium never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found.unwrap_or_else(|seen| panic!("chromium exited without DevTools:\n{seen}"))
}

/// The Chromium binary, installed with `apt-get` the first time when
/// missing.
async fn chromium() -> &'static str {
    static INSTALL: tokio::sync::OnceCell<&'static str> = tokio::sync::OnceCell::const_new();
    *INSTALL
        .get_or_init(|| async {
            if let Some(binary) = installed() {
                return binary;
            }
            let status = Command::new("apt-get")
                .args(["install", "-y", "-qq", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .await;
            match (status, installed()) {
                (_, Some(binary)) => binary,
                (status, None) => panic!(
                    "the browser tests need Chromium: install Debian's `chromium` package \
                     (`apt-get install chromium`); installing it here failed: {status:?}"
                ),
            }
        })
        .await
}

fn installed() -> Option<&'static str> {
    BINARIES.into_iter().find(|binary| {
        std::process::Command::new(binary)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
