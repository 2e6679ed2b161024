//! Acknowledged appends survive SIGKILL of the writing process.
//!
//! The test re-runs this test binary as a child process with
//! [`CHILD_ENV`] set, which turns `durability_child_writer` into a writer:
//! several tasks append concurrently and print one `ACK` line per
//! acknowledged append. The parent kills the child mid-flight (SIGKILL on
//! Unix), reopens the database and checks that every acknowledged event is
//! there, at its revision and position. Three rounds on the same file also
//! check that the store reopens cleanly after each kill.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use connectors::store::embedded::SqliteStore;
use connectors::store::{Direction, EventStore, ExpectedRevision, NewEvent, StreamStart};
use uuid::Uuid;

const CHILD_ENV: &str = "CONNECTORS_STORE_DURABILITY_DB";
const CHILD_ROUND_ENV: &str = "CONNECTORS_STORE_DURABILITY_ROUND";
const WRITERS: usize = 8;
const ROUNDS: usize = 3;
/// Acknowledgements to wait for before killing the child.
const ACKS_BEFORE_KILL: usize = 1_000;

/// One acknowledged append, as printed by the child.
#[derive(Debug)]
struct Ack {
    stream: String,
    last_revision: u64,
    position: u64,
    ids: Vec<Uuid>,
}

impl Ack {
    fn parse(line: &str) -> Option<Ack> {
        let line = &line[line.find("ACK ")?..];
        let mut parts = line.split_whitespace().skip(1);
        let stream = parts.next()?.to_owned();
        let last_revision = parts.next()?.parse().ok()?;
        let position = parts.next()?.parse().ok()?;
        let ids = parts
            .next()?
            .split(',')
            .map(|id| id.parse().ok())
            .collect::<Option<Vec<Uuid>>>()?;
        Some(Ack {
            stream,
            last_revision,
            position,
            ids,
        })
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("events.db");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    for round in 0..ROUNDS {
        let acks = run_child_until_killed(&db, round);
        assert!(
            acks.len() >= ACKS_BEFORE_KILL,
            "round {round}: only {} acks",
            acks.len()
        );
        runtime.block_on(verify(&db, &acks, round));
    }
}

/// Starts a writer child, reads its acknowledgements, kills it with SIGKILL
/// while it is still writing, and returns every complete `ACK` line.
fn run_child_until_killed(db: &Path, round: usize) -> Vec<Ack> {
    let exe = std::env::current_exe().expect("current test binary");
    let mut child = Command::new(exe)
        .args([
            "durability_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .env(CHILD_ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut child = KillOnDrop(child);

    let (lines_tx, lines) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines count: a line cut by the kill was not fully
        // reported, though its append may well be durable.
        while stdout.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if line.ends_with('\n') && lines_tx.send(line.clone()).is_err() {
                break;
            }
            line.clear();
        }
    });

    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.len() < ACKS_BEFORE_KILL {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(timeout) {
            Ok(line) => acks.extend(Ack::parse(&line)),
            Err(e) => panic!("round {round}: {} acks, then {e:?}", acks.len()),
        }
    }
    child.0.kill().expect("SIGKILL the writer");
    let status = child.0.wait().expect("reap the writer");
    assert!(
        !status.success(),
        "the writer was killed, not finished: {status}"
    );
    reader.join().expect("stdout reader");
    acks.extend(lines.try_iter().filter_map(|line| Ack::parse(&line)));
    acks
}

async fn verify(db: &Path, acks: &[Ack], round: usize) {
    let store = SqliteStore::open(db).expect("reopen after SIGKILL");
    let mut streams: HashMap<&str, Vec<&Ack>> = HashMap::new();
    for ack in acks {
        streams.entry(ack.stream.as_str()).or_default().push(ack);
    }
    for (stream, acks) in streams {
        let events = store
            .read_stream(stream, Direction::Forwards, StreamStart::Start, 1_000_000)
            .await
            .unwrap_or_else(|e| panic!("round {round}: read `{stream}`: {e}"));
        let by_revision: HashMap<u64, _> = events.iter().map(|e| (e.revision, e)).collect();
        for ack in acks {
            let first = ack.last_revision + 1 - ack.ids.len() as u64;
            for (i, id) in ack.ids.iter().enumerate() {
                let revision = first + i as u64;
                let event = by_revision.get(&revision).unwrap_or_else(|| {
                    panic!("round {round}: acknowledged `{stream}`@{revision} is lost")
                });
                assert_eq!(event.id, *id, "round {round}: `{stream}`@{revision} id");
            }
            let last = by_revision[&ack.last_revision];
            assert_eq!(
                last.position.commit, ack.position,
                "round {round}: `{stream}`@{} position",
                ack.last_revision
            );
        }
    }
    let head = store
        .head_position()
        .await
        .expect("head")
        .map_or(0, |p| p.commit);
    let acked_max = acks.iter().map(|a| a.position).max().unwrap_or(0);
    assert!(
        head >= acked_max,
        "round {round}: head {head} < acknowledged {acked_max}"
    );
}

/// The writer side; does nothing unless started by the test above.
#[test]
fn durability_child_writer() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let round = std::env::var(CHILD_ROUND_ENV).unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async move {
        let store = SqliteStore::open(Path::new(&db)).expect("open the store");
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let store = store.clone();
            let stream = format!("durable-{round}-{writer}");
            tasks.push(tokio::spawn(write_forever(store, stream, writer)));
        }
        // Safety net if the parent never kills us.
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

async fn write_forever(store: SqliteStore, stream: String, writer: usize) {
    let mut expected = ExpectedRevision::NoStream;
    for seq in 0.. {
        // Batches of 1 to 4 events, a bigger one now and then.
        let size = if seq % 10 == 9 {
            50
        } else {
            1 + (seq + writer) % 4
        };
        let events: Vec<NewEvent> = (0..size)
            .map(|i| NewEvent::json("Durable", &serde_json::json!({ "seq": seq, "i": i })))
            .collect();
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        let result = store
            .append(&stream, expected, events)
            .await
            .expect("append");
        expected = ExpectedRevision::Exact(result.next_expected_revision);
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "ACK {stream} {} {} {}",
            result.next_expected_revision,
            result.position.commit,
            ids.join(",")
        )
        .and_then(|()| out.flush())
        .expect("write the acknowledgement");
    }
}
