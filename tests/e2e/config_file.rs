//! `connectors serve --config FILE`: a node takes its address, member name
//! and API token from a TOML file; a flag or an environment variable wins
//! over the file; an unknown key stops the node with exit status 1 and the
//! key's name.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::free_port;

const TOKEN: &str = "file-token-0123456789abcdef";

/// A `connectors serve` process started here; killed when dropped.
struct Served {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path` with the file's token (when `token`), its status and body.
    async fn get(&self, path: &str, token: bool) -> (u16, String) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.base));
        if token {
            request = request.bearer_auth(TOKEN);
        }
        let response = request.send().await.expect("the node answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    /// The names of the members `GET /members` shows.
    async fn member_names(&self) -> Vec<String> {
        let (status, body) = self.get("/members", true).await;
        assert_eq!(status, 200, "GET /members: {body}");
        let members: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        members
            .as_array()
            .expect("an array of members")
            .iter()
            .map(|m| m["member"].as_str().expect("a member name").to_owned())
            .collect()
    }
}

/// A settings file in `dir`: its data directory, `listen`, `member` and
/// the API token.
fn write_settings(dir: &Path, listen: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("connectors.toml");
    let data = dir.join("data");
    std::fs::write(
        &path,
        format!(
            "listen = \"{listen}\"\nmember = \"from-file\"\napi-token = \"{TOKEN}\"\ndata = \"{}\"\n{extra}",
            data.display()
        ),
    )
    .expect("write the settings file");
    path
}

/// `connectors serve` with `args` and `envs`, nothing else set.
fn command(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connectors"));
    command.arg("serve").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("CONNECTORS_") {
            command.env_remove(name);
        }
    }
    command
        .envs(envs.iter().copied())
        .env("RUST_LOG", "info")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Starts a node that should answer at `listen`; waits for `/health`.
async fn serve(dir: &Path, listen: &str, args: &[&str], envs: &[(&str, &str)]) -> Served {
    let log = dir.join(format!("node-{}.log", free_port()));
    let child = command(dir, args, envs)
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start the connectors binary");
    let mut served = Served {
        child,
        base: format!("http://{listen}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(format!("{}/health", served.base)).await {
            if response.status().is_success() {
                return served;
            }
        }
        if let Ok(Some(exit)) = served.child.try_wait() {
            panic!("the node exited ({exit}); log:\n{}", served.log());
        }
        assert!(
            Instant::now() < deadline,
            "the node did not answer at {listen}; log:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_takes_its_address_member_and_token_from_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let file = write_settings(dir.path(), &listen, "");
    let config = file.to_str().expect("a UTF-8 path");

    let node = serve(dir.path(), &listen, &["--config", config], &[]).await;
    let (status, _) = node.get("/connectors", false).await;
    assert_eq!(status, 401, "the file's token is required: {}", node.log());
    let (status, body) = node.get("/connectors", true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node.member_names().await, ["from-file"]);
    assert!(
        dir.path().join("data").is_dir(),
        "the file's data directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_and_an_environment_variable_win_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let file = write_settings(dir.path(), &listen, "");
    let config = file.to_str().expect("a UTF-8 path");

    let flagged = serve(
        dir.path(),
        &listen,
        &["--config", config, "--member", "from-flag"],
        &[("CONNECTORS_MEMBER", "from-env")],
    )
    .await;
    assert_eq!(flagged.member_names().await, ["from-flag"]);
    drop(flagged);

    // Another address by the environment, the file named by the
    // environment too.
    let other = format!("127.0.0.1:{}", free_port());
    let from_env = serve(
        dir.path(),
        &other,
        &[],
        &[
            ("CONNECTORS_CONFIG", config),
            ("CONNECTORS_LISTEN", other.as_str()),
            ("CONNECTORS_MEMBER", "from-env"),
        ],
    )
    .await;
    let names = from_env.member_names().await;
    assert!(names.contains(&"from-env".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_key_stops_the_node_with_its_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = format!("127.0.0.1:{}", free_port());
    let file = write_settings(dir.path(), &listen, "lisen = \"127.0.0.1:1\"\n");
    let config = file.to_str().expect("a UTF-8 path");

    let output = command(dir.path(), &["--config", config], &[])
        .output()
        .expect("run the connectors binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: {config}:5: unknown setting `lisen` (the settings are the long options of \
             `connectors serve`, such as `listen`)"
        )
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
}
