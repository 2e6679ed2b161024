//! A cluster on loopback for the cluster tests. Member `m0` is an embedded
//! node that serves its store over the KurrentDB gRPC protocol; every other
//! member is a sidecar attached to it with `--store`. Heartbeats and leases
//! are short, so a dead member's connectors move within seconds.
//!
//! Also: where connectors run (`GET /members` and each status agreeing),
//! whether that is balanced, and the checkpoints kept in the store. What
//! the members delivered is read back with [`super::deliveries`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;

use super::{free_port, NodeProcess};

/// Every member heartbeats this often...
pub const HEARTBEAT_MS: u64 = 500;
/// ...and is dead once not heard from for this long.
pub const LEASE_MS: u64 = 3000;
/// The embedded node that holds the store.
pub const STORE_MEMBER: &str = "m0";
/// The stream members heartbeat into.
pub const MEMBERS_STREAM: &str = "$connectors-members";

/// The members of one cluster, by name; each is SIGKILLed when dropped.
pub struct Cluster {
    members: BTreeMap<String, NodeProcess>,
    /// Every member's data and log; kept when a test fails.
    dir: Option<tempfile::TempDir>,
    grpc_port: u16,
}

impl Cluster {
    /// Starts the store member `m0` and one sidecar per name, with the
    /// default role (the role of the node they are attached to: leader).
    pub async fn start(sidecars: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let grpc_port = free_port();
        let mut args = vec!["--grpc-listen".to_owned(), format!("127.0.0.1:{grpc_port}")];
        args.extend(member_args(STORE_MEMBER));
        let store = NodeProcess::start_with_args(&dir.path().join(STORE_MEMBER), &args).await;
        assert_sees(&store, &[(STORE_MEMBER, &store.base)]).await;
        let mut cluster = Self {
            members: BTreeMap::from([(STORE_MEMBER.to_owned(), store)]),
            dir: Some(dir),
            grpc_port,
        };
        let started = join_all(
            sidecars
                .iter()
                .map(|name| cluster.launch_sidecar(name, &[])),
        )
        .await;
        for (name, node) in sidecars.iter().zip(started) {
            cluster.members.insert((*name).to_owned(), node);
        }
        cluster
    }

    /// Starts (or starts again) sidecar `name` with `extra` arguments.
    pub async fn start_sidecar(&mut self, name: &str, extra: &[&str]) {
        assert!(
            !self.members.contains_key(name),
            "member {name} is already running"
        );
        let node = self.launch_sidecar(name, extra).await;
        self.members.insert(name.to_owned(), node);
    }

    async fn launch_sidecar(&self, name: &str, extra: &[&str]) -> NodeProcess {
        let mut args = vec![
            "--store".to_owned(),
            format!("esdb://127.0.0.1:{}?tls=false", self.grpc_port),
        ];
        args.extend(member_args(name));
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let dir = self.dir.as_ref().expect("the cluster's directory").path();
        let node = NodeProcess::start_with_args(&dir.join(name), &args).await;
        let store = &self.store().base;
        assert_sees(&node, &[(name, &node.base), (STORE_MEMBER, store)]).await;
        node
    }

    /// A running member.
    pub fn member(&self, name: &str) -> &NodeProcess {
        self.members
            .get(name)
            .unwrap_or_else(|| panic!("member {name} is not running"))
    }

    /// The embedded node that holds the store.
    pub fn store(&self) -> &NodeProcess {
        self.member(STORE_MEMBER)
    }

    /// The names of the running members, sorted.
    pub fn names(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// Takes member `name` out of the cluster, to kill or stop it.
    pub fn take(&mut self, name: &str) -> NodeProcess {
        self.members
            .remove(name)
            .unwrap_or_else(|| panic!("member {name} is not running"))
    }

    /// Every member's log lines about claiming, releasing, starting and
    /// stopping connectors, by time, each prefixed with the member's name: what to read when a
    /// placement check fails.
    pub fn hand_overs(&self) -> String {
        let mut lines: Vec<String> = self
            .members
            .iter()
            .flat_map(|(name, node)| {
                strip_colours(&node.log())
                    .lines()
                    .filter(|line| {
                        [
                            "claimed the",
                            "released the",
                            "connector started",
                            "connector stopped",
                        ]
                        .iter()
                        .any(|what| line.contains(what))
                    })
                    .map(|line| format!("{line} [{name}]"))
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines.join("\n")
    }

    /// `GET /members`, asked of the store member.
    pub async fn members(&self) -> Vec<Value> {
        let (status, body) = self.store().get("/members").await;
        assert_eq!(status, 200, "GET /members: {body}");
        body.as_array().expect("an array of members").clone()
    }

    /// Waits until `GET /members` shows exactly `names` alive; returns that
    /// answer.
    pub async fn wait_alive(&self, names: &[&str]) -> Vec<Value> {
        until(
            Duration::from_secs(30),
            &format!("exactly {names:?} alive"),
            || async {
                let members = self.members().await;
                if alive_names(&members) == names {
                    Ok(members)
                } else {
                    Err(format!("members: {}", Value::Array(members)))
                }
            },
        )
        .await
    }

    /// Where `ids` run when both views agree: each is `running` with
    /// `status.member` naming an alive member, and `GET /members` lists it
    /// under that member and no other alive one. `Err` says what does not agree yet.
    pub async fn placement(&self, ids: &[String]) -> Result<BTreeMap<String, String>, String> {
        let members = self.members().await;
        let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        // A dead member's last heartbeat still lists what it ran.
        for member in members.iter().filter(|m| m["alive"] == true) {
            let name = member["member"].as_str().expect("member name").to_owned();
            for id in member["connectors"].as_array().expect("connectors") {
                let id = id.as_str().expect("connector id").to_owned();
                listed.entry(id).or_default().push(name.clone());
            }
        }
        let alive = alive_names(&members);
        let mut owners = BTreeMap::new();
        for id in ids {
            let status = self.store().status(id).await;
            let Some(owner) = status["member"].as_str() else {
                return Err(format!("{id} has no member yet: {status}"));
            };
            if status["state"] != "running" {
                return Err(format!("{id} is not running yet: {status}"));
            }
            if !alive.iter().any(|name| name == owner) {
                return Err(format!("{id} runs on {owner}, which is not alive"));
            }
            let on = listed.get(id).cloned().unwrap_or_default();
            if on != [owner] {
                return Err(format!(
                    "{id} runs on {owner} by its status, on {on:?} by GET /members"
                ));
            }
            owners.insert(id.clone(), owner.to_owned());
        }
        Ok(owners)
    }

    /// Waits until the placement of `ids` settles over the alive members
    /// `over`, each running within one of the mean; returns it.
    pub async fn wait_balanced(&self, ids: &[String], over: &[&str]) -> BTreeMap<String, String> {
        until(
            Duration::from_secs(30),
            &format!("{} connectors balanced over {over:?}", ids.len()),
            || async {
                let owners = self.placement(ids).await?;
                balanced(&owners, over)?;
                Ok(owners)
            },
        )
        .await
    }
}

/// Waits until `node`'s `GET /members` lists each `(name, address)`: the
/// port it answers on is its own (not another test's node that took a port
/// this one could not bind) and it found the cluster's store.
async fn assert_sees(node: &NodeProcess, expected: &[(&str, &str)]) {
    until(
        Duration::from_secs(10),
        &format!("{} to list {expected:?} among the members", node.base),
        || async {
            let (status, body) = node.get("/members").await;
            let listed = |(name, address): &(&str, &str)| {
                body.as_array().is_some_and(|members| {
                    members
                        .iter()
                        .any(|m| m["member"] == *name && m["address"] == *address)
                })
            };
            if status == 200 && expected.iter().all(listed) {
                Ok(())
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await;
}

impl Drop for Cluster {
    /// When a test fails, says which members had exited, shows the end of
    /// every member's log and keeps their directories.
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (name, node) in &mut self.members {
            let exited = node
                .exited()
                .map_or("running".to_owned(), |status| format!("exited: {status}"));
            let log = strip_colours(&node.log());
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n");
            eprintln!("--- member {name} ({exited}), last lines of its log:\n{tail}");
        }
        self.members.clear();
        if let Some(dir) = self.dir.take() {
            eprintln!(
                "--- the members' data and logs are kept in {}",
                dir.keep().display()
            );
        }
    }
}

/// How many lines of each member's log a failed test shows.
const LOG_TAIL: usize = 40;

/// A connector's checkpoints by revision: `(round, commit position)`.
pub type Checkpoints = BTreeMap<u64, (u64, u64)>;

/// The kept checkpoints of connector `id`, read from the store member at
/// `base`.
pub async fn read_checkpoints(client: &reqwest::Client, base: &str, id: &str) -> Checkpoints {
    let url =
        format!("{base}/streams/%24connectors%2F{id}%2Fcheckpoints?direction=backwards&count=20");
    let response = client.get(url).send().await.expect("read checkpoints");
    if response.status() == 404 {
        return BTreeMap::new();
    }
    assert!(response.status().is_success(), "read checkpoints of {id}");
    let body: Value = response.json().await.expect("JSON checkpoints");
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| {
            let revision = event["revision"].as_u64().expect("revision");
            let data = &event["data"];
            let round = data["round"].as_u64().expect("checkpoint round");
            let commit = data["position"]["commit"]
                .as_u64()
                .expect("checkpoint position");
            (revision, (round, commit))
        })
        .collect()
}

/// `text` without ANSI colour codes.
fn strip_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

fn member_args(name: &str) -> Vec<String> {
    vec![
        "--member".to_owned(),
        name.to_owned(),
        "--heartbeat-ms".to_owned(),
        HEARTBEAT_MS.to_string(),
        "--lease-ms".to_owned(),
        LEASE_MS.to_string(),
    ]
}

/// The names of the members `GET /members` shows alive, sorted.
pub fn alive_names(members: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = members
        .iter()
        .filter(|m| m["alive"] == true)
        .map(|m| m["member"].as_str().expect("member name").to_owned())
        .collect();
    names.sort();
    names
}

/// How many of `owners` run on each member of `over` (zero included).
pub fn counts(owners: &BTreeMap<String, String>, over: &[&str]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = over.iter().map(|m| ((*m).to_owned(), 0)).collect();
    for owner in owners.values() {
        *counts.entry(owner.clone()).or_default() += 1;
    }
    counts
}

/// `Ok` when every member of `over` runs within one of the mean of
/// `owners` and none runs elsewhere.
pub fn balanced(owners: &BTreeMap<String, String>, over: &[&str]) -> Result<(), String> {
    let counts = counts(owners, over);
    let mean = owners.len() as f64 / over.len() as f64;
    let fair = counts.len() == over.len()
        && counts
            .values()
            .all(|&count| (count as f64 - mean).abs() <= 1.0);
    if fair {
        Ok(())
    } else {
        Err(format!(
            "not within one of the mean {mean:.2} on {over:?}: {counts:?}"
        ))
    }
}

/// Waits until `check` returns `Ok`, failing after `timeout` with `what`
/// and the last `Err`.
pub async fn until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; last: {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
