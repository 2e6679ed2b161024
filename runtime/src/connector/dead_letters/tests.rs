//! Dead letters written, read back a page at a time, and their replays.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use super::*;
use crate::connector::{Command, ConnectorDefinition, ConnectorEvent, ConnectorId};
use crate::store::embedded::SqliteStore;

fn connector(incarnation: u64) -> ConnectorState {
    let id = ConnectorId::parse("hook").expect("id");
    let created = ConnectorEvent::Created {
        definition: serde_json::from_value(json!({ "sink": { "type": "console" } }))
            .expect("definition"),
        enabled: true,
        round: 0,
        end_at: None,
        name: None,
    };
    ConnectorState::fold(&id, [(incarnation, Utc::now(), &created)]).expect("state")
}

#[test]
fn the_incarnation_is_the_revision_of_the_created_event() {
    assert_eq!(connector(7).incarnation, 7);
}

#[test]
fn letters_of_another_incarnation_are_not_the_connectors() {
    let current = connector(3);
    let now = Utc::now();
    assert!(belongs_to(Some(3), now, &current));
    assert!(!belongs_to(Some(0), now, &current));
}

#[test]
fn letters_without_an_incarnation_belong_to_the_life_they_postdate() {
    let current = connector(3);
    assert!(belongs_to(None, current.created, &current));
    assert!(!belongs_to(
        None,
        current.created - Duration::seconds(1),
        &current
    ));
}

fn definition() -> ConnectorDefinition {
    serde_json::from_value(json!({ "sink": { "type": "console" } })).expect("definition")
}

/// Refuses the event `n` of `orders-1` for `connector`.
async fn refuse(repository: &ConnectorRepository, connector: &ConnectorState, n: u64) {
    let store = repository.store();
    let written = store
        .append(
            "orders-1",
            ExpectedRevision::Any,
            vec![NewEvent::json("OrderPlaced", &json!({ "n": n }))],
        )
        .await
        .expect("append");
    let event = store
        .read_stream(
            "orders-1",
            Direction::Forwards,
            StreamStart::Revision(written.next_expected_revision),
            1,
        )
        .await
        .expect("read")
        .remove(0);
    let letter = DeadLetter {
        event: &event,
        stage: "sink",
        reason: "HTTP 400",
        status: Some(400),
        response: None,
    };
    repository
        .dead_letter(connector, letter)
        .await
        .expect("dead letter");
}

fn numbers(page: &DeadLetterPage) -> Vec<serde_json::Value> {
    page.letters
        .iter()
        .map(|l| l.event["data"]["n"].clone())
        .collect()
}

#[tokio::test]
async fn pages_follow_the_cursor_and_a_crash_after_delete_hides_old_letters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let repository = ConnectorRepository::new(Arc::new(store));
    let id = ConnectorId::parse("hook").expect("id");
    let create = || Command::Create {
        definition: definition(),
        enable: true,
        name: None,
    };
    let first = repository.execute(&id, create()).await.expect("create");
    for n in 0..3 {
        refuse(&repository, &first, n).await;
    }
    let page = repository
        .dead_letters(&first, 0, 2, usize::MAX)
        .await
        .expect("page");
    assert_eq!(numbers(&page), [json!(0), json!(1)]);
    let next = page.next_from.expect("a next page");
    let page = repository
        .dead_letters(&first, next, 2, usize::MAX)
        .await
        .expect("page");
    assert_eq!((numbers(&page), page.next_from), (vec![json!(2)], None));

    // Deleted, then the node dies before it forgets the streams: the
    // old letters stay in the stream, and a late one from the old
    // pipeline joins them after the re-creation.
    repository
        .execute(&id, Command::Delete)
        .await
        .expect("delete");
    let second = repository.execute(&id, create()).await.expect("create");
    assert_ne!(first.incarnation, second.incarnation);
    refuse(&repository, &first, 3).await;
    refuse(&repository, &second, 4).await;
    let page = repository
        .dead_letters(&second, 0, 10, usize::MAX)
        .await
        .expect("page");
    assert_eq!((numbers(&page), page.next_from), (vec![json!(4)], None));
}

#[tokio::test]
async fn a_letter_shows_its_last_replay_even_when_recorded_after_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("events.db")).expect("store");
    let repository = ConnectorRepository::new(Arc::new(store));
    let id = ConnectorId::parse("hook").expect("id");
    let connector = repository
        .execute(
            &id,
            Command::Create {
                definition: definition(),
                enable: true,
                name: None,
            },
        )
        .await
        .expect("create");
    for n in 0..2 {
        refuse(&repository, &connector, n).await;
    }
    let failed = ReplayOutcome::Failed {
        stage: "sink".into(),
        reason: "HTTP 400 from https://user:hunter2@example.com/hook".into(),
    };
    repository
        .record_replay(&connector, 0, &failed)
        .await
        .expect("record");
    repository
        .record_replay(&connector, 0, &ReplayOutcome::Delivered)
        .await
        .expect("record");
    repository
        .record_replay(&connector, 1, &failed)
        .await
        .expect("record");

    // The whole stream: the records are not letters.
    let page = repository
        .dead_letters(&connector, 0, 100, usize::MAX)
        .await
        .expect("page");
    assert_eq!(numbers(&page), [json!(0), json!(1)]);
    let outcomes: Vec<_> = page
        .letters
        .iter()
        .map(|l| l.replayed.as_ref().map(|r| r.outcome))
        .collect();
    assert_eq!(outcomes, [Some("delivered"), Some("failed")]);
    let reason = page.letters[1]
        .replayed
        .as_ref()
        .and_then(|r| r.reason.clone())
        .expect("a reason");
    assert!(!reason.contains("hunter2"), "{reason}");

    // A page of one letter still finds the replays recorded after it.
    let page = repository
        .dead_letters(&connector, 0, 1, usize::MAX)
        .await
        .expect("page");
    assert_eq!(numbers(&page), [json!(0)]);
    assert!(page.letters[0]
        .replayed
        .as_ref()
        .is_some_and(LastReplay::delivered));
}
