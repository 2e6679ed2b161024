//! Failover between the members of a cluster, with the release binary: an
//! embedded node that serves the store over gRPC and runs no connectors
//! (`--grpc-listen`, `--no-connectors`), and three sidecars on it
//! (`--store esdb://...`), at the default heartbeat (1 s) and lease (5 s).
//! Sixteen connectors (`"affinity": "any"`) deliver to a loopback receiver
//! that records which member delivered (`esdb-connector-member`), in which
//! ownership epoch, and when, while an event is appended every 50 ms.
//!
//! Then rounds of: SIGKILL the sidecar that owns the most connectors; the
//! time from the kill to the first delivery of each moved connector by its
//! new owner (each round reports its slowest mover); restart the killed
//! sidecar under the same `--member` name; the time from that start until
//! the cluster is balanced again (every sidecar alive with a connector
//! count within one of the mean, and every connector delivering from the
//! owner `GET /members` names). Finally the cost of membership on the idle
//! cluster: events and bytes appended per member per minute to
//! `$connectors-members`, and to the owner and checkpoint streams, read
//! through `GET /streams/...`.
//!
//! Run with `cargo bench --bench failover`. Environment: `FAILOVER_ROUNDS`
//! (10), `FAILOVER_CONNECTORS` (16), `FAILOVER_IDLE_SECS` (60);
//! `FAILOVER_HEARTBEAT_MS` and `FAILOVER_LEASE_MS` pass `--heartbeat-ms` and
//! `--lease-ms` to every member. Results: docs/benchmarks.md.

#![allow(clippy::print_stdout)]

mod cluster;
mod receiver;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use cluster::{balanced_owners, free_port, Api, Member};
use receiver::Receiver;

/// The stream the writer appends to; every connector reads it.
const LOAD_STREAM: &str = "load-1";
const LOAD_PREFIX: &str = "load-";
/// One event per connector this often.
const LOAD_EVERY: Duration = Duration::from_millis(50);
const SIDECARS: usize = 3;
const MEMBERS_STREAM: &str = "$connectors-members";
/// How often the cluster's state is polled while waiting for balance.
const POLL_EVERY: Duration = Duration::from_millis(100);
const FAILOVER_DEADLINE: Duration = Duration::from_secs(90);
const BALANCE_DEADLINE: Duration = Duration::from_secs(180);

struct Settings {
    rounds: usize,
    connectors: usize,
    idle: Duration,
    /// `--heartbeat-ms` / `--lease-ms` for every member, when set.
    timing: Vec<String>,
}

impl Settings {
    fn from_env() -> Settings {
        let number = |name: &str, default: u64| -> u64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let mut timing = Vec::new();
        for (variable, flag) in [
            ("FAILOVER_HEARTBEAT_MS", "--heartbeat-ms"),
            ("FAILOVER_LEASE_MS", "--lease-ms"),
        ] {
            if let Ok(value) = std::env::var(variable) {
                timing.extend([flag.to_owned(), value]);
            }
        }
        Settings {
            rounds: number("FAILOVER_ROUNDS", 10) as usize,
            connectors: number("FAILOVER_CONNECTORS", 16) as usize,
            idle: Duration::from_secs(number("FAILOVER_IDLE_SECS", 60)),
            timing,
        }
    }
}

/// What one round measured.
struct Round {
    victim: String,
    moved: usize,
    fastest: Duration,
    slowest: Duration,
    /// From the restart until the API answered (part of `join`).
    startup: Duration,
    join: Duration,
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let receiver = Receiver::start().await;

    let grpc_port = free_port();
    let mut store_args = vec![
        "--grpc-listen".to_owned(),
        format!("127.0.0.1:{grpc_port}"),
        "--no-connectors".to_owned(),
    ];
    store_args.extend(settings.timing.iter().cloned());
    let mut store = Member::new("store", dir.path().join("store"), store_args);
    store.start(&http).await;
    let api = Api {
        base: store.base(),
        http: http.clone(),
    };
    let mut sidecars: Vec<Member> = (1..=SIDECARS)
        .map(|i| {
            let mut args = vec![
                "--store".to_owned(),
                format!("esdb://127.0.0.1:{grpc_port}?tls=false"),
            ];
            args.extend(settings.timing.iter().cloned());
            let name = format!("sidecar-{i}");
            Member::new(&name, dir.path().join(&name), args)
        })
        .collect();
    for sidecar in &mut sidecars {
        sidecar.start(&http).await;
    }
    let workers: Vec<String> = sidecars.iter().map(|s| s.name.clone()).collect();

    let ids: Vec<String> = (1..=settings.connectors)
        .map(|i| format!("failover-{i:02}"))
        .collect();
    let created = Instant::now();
    for id in &ids {
        api.create_connector(id, &receiver.url(id), LOAD_PREFIX)
            .await;
    }
    let writer = tokio::spawn(write_load(api.clone()));
    let placed = wait_balanced(&api, &receiver, &workers, &ids, created).await;
    println!(
        "{} connectors placed on {SIDECARS} sidecars and delivering {:.2} s after the first create",
        ids.len(),
        placed.as_secs_f64()
    );
    println!();
    println!(
        "| round | killed | connectors moved | first mover | slowest mover | restart to API up | join rebalance |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut rounds = Vec::new();
    for number in 1..=settings.rounds {
        let round = run_round(&api, &receiver, &mut sidecars, &workers, &ids, &http).await;
        println!(
            "| {number} | {} | {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
            round.victim,
            round.moved,
            round.fastest.as_secs_f64(),
            round.slowest.as_secs_f64(),
            round.startup.as_secs_f64(),
            round.join.as_secs_f64()
        );
        rounds.push(round);
    }
    println!();
    println!("| over {} rounds | min | median | max |", rounds.len());
    println!("|---|---|---|---|");
    summary(
        "kill to first delivery by the new owner, slowest mover",
        rounds.iter().map(|r| r.slowest),
    );
    summary("restart to API up", rounds.iter().map(|r| r.startup));
    summary(
        "restart to balanced and delivering (join rebalance)",
        rounds.iter().map(|r| r.join),
    );
    writer.abort();

    // Let in-flight deliveries and hand-overs finish before measuring.
    tokio::time::sleep(Duration::from_secs(5)).await;
    idle_cost(&api, &ids, settings.idle).await;
}

/// Appends one event every [`LOAD_EVERY`] until aborted; failures are
/// reported, not fatal (the store node stays up, but a request may time out).
async fn write_load(api: Api) {
    let mut tick = tokio::time::interval(LOAD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 0.. {
        tick.tick().await;
        if let Err(e) = api.append_one(LOAD_STREAM, n).await {
            eprintln!("append {n} to {LOAD_STREAM} failed: {e}");
        }
    }
}

/// Kills the busiest sidecar, waits for its connectors to deliver from
/// their new owners, restarts it and waits for balance.
async fn run_round(
    api: &Api,
    receiver: &Receiver,
    sidecars: &mut [Member],
    workers: &[String],
    ids: &[String],
    http: &reqwest::Client,
) -> Round {
    let members = api.members().await;
    let busiest = members
        .iter()
        .filter(|m| m.alive && m.runs_connectors)
        .max_by_key(|m| m.connectors.len())
        .expect("a member runs connectors");
    let victim = busiest.member.clone();
    let moved = busiest.connectors.clone();
    let sidecar = sidecars
        .iter_mut()
        .find(|s| s.name == victim)
        .expect("the busiest member is a sidecar");
    let killed = sidecar.kill();

    let firsts = loop {
        let firsts: Option<Vec<Instant>> = moved
            .iter()
            .map(|id| receiver.first_delivery_after(id, killed, &victim))
            .collect();
        if let Some(firsts) = firsts {
            break firsts;
        }
        if killed.elapsed() > FAILOVER_DEADLINE {
            let waiting: Vec<&String> = moved
                .iter()
                .filter(|id| receiver.first_delivery_after(id, killed, &victim).is_none())
                .collect();
            panic!(
                "{waiting:?} did not deliver from another member within {FAILOVER_DEADLINE:?} \
                 of killing {victim}; members: {:?}",
                api.members().await
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let since_kill = |t: &Instant| t.duration_since(killed);
    let fastest = firsts.iter().map(since_kill).min().unwrap_or_default();
    let slowest = firsts.iter().map(since_kill).max().unwrap_or_default();

    let (restarted, startup) = sidecar.start(http).await;
    let join = wait_balanced(api, receiver, workers, ids, restarted).await;
    Round {
        victim,
        moved: moved.len(),
        fastest,
        slowest,
        startup,
        join,
    }
}

/// Waits until every sidecar is alive and within one connector of the mean
/// and every connector has delivered from its owner since `since`; returns
/// the time from `since` (to within [`POLL_EVERY`]).
async fn wait_balanced(
    api: &Api,
    receiver: &Receiver,
    workers: &[String],
    ids: &[String],
    since: Instant,
) -> Duration {
    loop {
        let members = api.members().await;
        if let Some(owners) = balanced_owners(&members, workers, ids.len()) {
            let delivering = ids.iter().all(|id| {
                owners
                    .get(id)
                    .is_some_and(|owner| receiver.delivered_by_since(id, owner, since))
            });
            if delivering {
                return since.elapsed();
            }
        }
        assert!(
            since.elapsed() < BALANCE_DEADLINE,
            "not balanced and delivering within {BALANCE_DEADLINE:?}; members: {members:?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Prints min, median and max of `values` as a table row.
fn summary(what: &str, values: impl Iterator<Item = Duration>) {
    let mut values: Vec<Duration> = values.collect();
    if values.is_empty() {
        return;
    }
    values.sort();
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2
    };
    println!(
        "| {what} | {:.2} s | {:.2} s | {:.2} s |",
        values[0].as_secs_f64(),
        median.as_secs_f64(),
        values[values.len() - 1].as_secs_f64()
    );
}

/// Events appended to each stream while the cluster idles for `idle`, and
/// their bytes (data and metadata as compact JSON).
async fn idle_cost(api: &Api, ids: &[String], idle: Duration) {
    let mut streams = vec![MEMBERS_STREAM.to_owned()];
    for id in ids {
        streams.push(format!("$connectors/{id}/owner"));
        streams.push(format!("$connectors/{id}/checkpoints"));
    }
    let mut before = HashMap::new();
    for stream in &streams {
        before.insert(stream.clone(), api.last_revision(stream).await);
    }
    let started = Instant::now();
    tokio::time::sleep(idle).await;
    let minutes = started.elapsed().as_secs_f64() / 60.0;

    let mut members_events = Vec::new();
    let mut totals: HashMap<&str, (u64, u64)> = HashMap::new();
    for stream in &streams {
        let from = before[stream].map_or(0, |r| r + 1);
        let after = api.last_revision(stream).await;
        let appended = match after {
            Some(last) if last + 1 > from => last + 1 - from,
            _ => 0,
        };
        let events = read_range(api, stream, from, appended).await;
        let read_bytes: u64 = events.iter().map(event_bytes).sum();
        // A stream capped by `$maxCount` may have dropped some already.
        let bytes = if events.is_empty() {
            0
        } else {
            read_bytes * appended / events.len() as u64
        };
        let kind = if stream == MEMBERS_STREAM {
            members_events = events;
            "`$connectors-members`"
        } else if stream.ends_with("/owner") {
            "`$connectors/{id}/owner`, all connectors"
        } else {
            "`$connectors/{id}/checkpoints`, all connectors"
        };
        let total = totals.entry(kind).or_default();
        total.0 += appended;
        total.1 += bytes;
    }
    let mut heartbeating: Vec<&str> = members_events
        .iter()
        .filter_map(|e| e["data"]["member"].as_str())
        .collect();
    heartbeating.sort_unstable();
    heartbeating.dedup();
    let members = heartbeating.len().max(1) as f64;
    println!();
    println!(
        "idle for {:.0} s; {} members wrote to `{MEMBERS_STREAM}`: {heartbeating:?}",
        minutes * 60.0,
        heartbeating.len()
    );
    println!();
    println!(
        "| stream | events per member per minute | bytes per member per minute | bytes per event |"
    );
    println!("|---|---|---|---|");
    let mut kinds: Vec<_> = totals.into_iter().collect();
    kinds.sort_by_key(|(kind, _)| *kind);
    for (kind, (events, bytes)) in kinds {
        let per_event = bytes.checked_div(events).unwrap_or(0);
        println!(
            "| {kind} | {:.1} | {:.0} | {per_event} |",
            events as f64 / members / minutes,
            bytes as f64 / members / minutes
        );
    }
}

/// `count` events of `stream` from revision `from`, in pages.
async fn read_range(api: &Api, stream: &str, from: u64, count: u64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut next = from;
    while (events.len() as u64) < count {
        let page = api.read(stream, next, 4096).await;
        let Some(last) = page.last().and_then(|e| e["revision"].as_u64()) else {
            break;
        };
        events.extend(
            page.into_iter()
                .filter(|e| e["revision"].as_u64().is_some_and(|r| r < from + count)),
        );
        next = last + 1;
    }
    events
}

/// The bytes of an event's data and metadata, as compact JSON.
fn event_bytes(event: &Value) -> u64 {
    let size = |value: &Value| match value {
        Value::Null => 0,
        other => serde_json::to_vec(other).map_or(0, |bytes| bytes.len() as u64),
    };
    size(&event["data"]) + size(&event["metadata"])
}
