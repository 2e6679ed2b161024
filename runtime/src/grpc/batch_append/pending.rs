//! The appends of one call whose last chunk has not come yet: each keyed by
//! its correlation id, with its stream, expected revision, deadline and the
//! events received so far. Bounded in number and in bytes per append; the
//! call bounds the bytes of all of them together. Also the ids answered
//! before their last chunk, so that chunks still on their way are dropped
//! quietly (as KurrentDB does) instead of answered a second time.

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::time::Instant;
use uuid::Uuid;

use super::super::append::{new_event, proposed_bytes};
use super::super::proto::streams::append_req;
use super::super::proto::streams::batch_append_req::ProposedMessage;
use super::super::proto::Uuid as ProtoUuid;
use super::answers::Refusal;
use crate::store::{ExpectedRevision, NewEvent};

/// An append in progress.
#[derive(Debug)]
pub struct PendingAppend {
    /// The correlation id as the client sent it, echoed in the answer.
    pub correlation_id: ProtoUuid,
    pub stream: String,
    pub expected: ExpectedRevision,
    /// Received and written by this, or answered with a timeout.
    pub deadline: Instant,
    pub events: Vec<NewEvent>,
    /// What the events count towards the size limits (see
    /// [`proposed_bytes`]).
    pub bytes: usize,
}

/// The appends in progress on one call.
#[derive(Debug)]
pub struct Pending {
    appends: HashMap<Uuid, PendingAppend>,
    /// Bytes of all their events.
    bytes: usize,
    max_appends: usize,
    max_append_bytes: usize,
}

impl Pending {
    pub fn new(max_appends: usize, max_append_bytes: usize) -> Self {
        Self {
            appends: HashMap::new(),
            bytes: 0,
            max_appends,
            max_append_bytes,
        }
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.appends.contains_key(id)
    }

    pub fn is_empty(&self) -> bool {
        self.appends.is_empty()
    }

    /// Bytes of the events of every append in progress.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Starts an append, unless too many are in progress already.
    pub fn start(
        &mut self,
        id: Uuid,
        append: PendingAppend,
    ) -> Result<(), (PendingAppend, Refusal)> {
        if self.appends.len() >= self.max_appends {
            let refusal = Refusal::BadRequest(format!(
                "too many appends in progress on this call (at most {}): send the last request of an append before starting more",
                self.max_appends
            ));
            return Err((append, refusal));
        }
        self.bytes = self.bytes.saturating_add(append.bytes);
        self.appends.insert(id, append);
        Ok(())
    }

    /// Adds a chunk's events to the append `id` (which must be in
    /// progress). On a refusal the append is dropped and returned with it,
    /// so the caller can answer it.
    pub fn add(
        &mut self,
        id: &Uuid,
        messages: Vec<ProposedMessage>,
    ) -> Result<(), (PendingAppend, Refusal)> {
        let Some(append) = self.appends.get_mut(id) else {
            return Ok(());
        };
        let mut refusal = None;
        for message in messages {
            let proposed = append_req::ProposedMessage {
                id: message.id,
                metadata: message.metadata,
                custom_metadata: message.custom_metadata,
                data: message.data,
            };
            let size = proposed_bytes(&proposed);
            if append.bytes.saturating_add(size) > self.max_append_bytes {
                refusal = Some(Refusal::MaximumAppendSizeExceeded(self.max_append_bytes));
                break;
            }
            match new_event(proposed) {
                Ok(event) => {
                    append.bytes += size;
                    self.bytes = self.bytes.saturating_add(size);
                    append.events.push(event);
                }
                Err(status) => {
                    refusal = Some(Refusal::BadRequest(status.message().to_owned()));
                    break;
                }
            }
        }
        match refusal {
            None => Ok(()),
            Some(refusal) => match self.take(id) {
                Some(append) => Err((append, refusal)),
                None => Ok(()),
            },
        }
    }

    /// Ends the append `id`: its last chunk came, or it was refused.
    pub fn take(&mut self, id: &Uuid) -> Option<PendingAppend> {
        let append = self.appends.remove(id)?;
        self.bytes = self.bytes.saturating_sub(append.bytes);
        Some(append)
    }

    /// The earliest deadline of the appends in progress.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.appends.values().map(|append| append.deadline).min()
    }

    /// Ends the appends whose deadline is `now` or earlier.
    pub fn expire(&mut self, now: Instant) -> Vec<(Uuid, PendingAppend)> {
        let expired: Vec<Uuid> = self
            .appends
            .iter()
            .filter(|(_, append)| append.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        expired
            .into_iter()
            .filter_map(|id| self.take(&id).map(|append| (id, append)))
            .collect()
    }

    /// Ends every append in progress (the client sent no more requests).
    pub fn drain(&mut self) -> Vec<PendingAppend> {
        self.bytes = 0;
        self.appends.drain().map(|(_, append)| append).collect()
    }
}

/// The ids of the most recent appends answered before their last chunk.
#[derive(Debug)]
pub struct Answered {
    order: VecDeque<Uuid>,
    ids: HashSet<Uuid>,
    capacity: usize,
}

impl Answered {
    pub fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::with_capacity(capacity),
            ids: HashSet::with_capacity(capacity),
            capacity,
        }
    }

    pub fn insert(&mut self, id: Uuid) {
        if self.capacity == 0 || !self.ids.insert(id) {
            return;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
        self.order.push_back(id);
    }

    pub fn contains(&self, id: &Uuid) -> bool {
        self.ids.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::grpc::convert::uuid_to_proto;

    fn append(deadline: Instant) -> PendingAppend {
        PendingAppend {
            correlation_id: uuid_to_proto(Uuid::new_v4(), false),
            stream: "orders".into(),
            expected: ExpectedRevision::Any,
            deadline,
            events: Vec::new(),
            bytes: 0,
        }
    }

    fn message(event_type: &str, data: usize) -> ProposedMessage {
        ProposedMessage {
            id: Some(uuid_to_proto(Uuid::new_v4(), false)),
            metadata: HashMap::from([("type".to_owned(), event_type.to_owned())]),
            custom_metadata: Vec::new(),
            data: vec![b'x'; data],
        }
    }

    #[test]
    fn chunks_add_up_and_taking_an_append_releases_its_bytes() {
        let mut pending = Pending::new(4, 10_000);
        let id = Uuid::new_v4();
        pending.start(id, append(Instant::now())).expect("start");
        pending.add(&id, vec![message("a", 100)]).expect("chunk 1");
        pending
            .add(&id, vec![message("a", 100), message("b", 100)])
            .expect("chunk 2");
        assert!(pending.bytes() > 300);
        let taken = pending.take(&id).expect("in progress");
        assert_eq!(taken.events.len(), 3);
        assert_eq!(pending.bytes(), 0);
        assert!(pending.is_empty());
    }

    #[test]
    fn an_append_over_its_size_limit_is_dropped_with_the_refusal() {
        let mut pending = Pending::new(4, 1_000);
        let id = Uuid::new_v4();
        pending.start(id, append(Instant::now())).expect("start");
        pending.add(&id, vec![message("a", 600)]).expect("fits");
        let (dropped, refusal) = pending
            .add(&id, vec![message("a", 600)])
            .expect_err("too large");
        assert_eq!(refusal, Refusal::MaximumAppendSizeExceeded(1_000));
        assert_eq!(dropped.events.len(), 1);
        assert!(!pending.contains(&id));
        assert_eq!(pending.bytes(), 0);
    }

    #[test]
    fn an_event_without_a_type_is_a_bad_request() {
        let mut pending = Pending::new(4, 1_000);
        let id = Uuid::new_v4();
        pending.start(id, append(Instant::now())).expect("start");
        let (_, refusal) = pending.add(&id, vec![message("", 1)]).expect_err("no type");
        assert!(matches!(refusal, Refusal::BadRequest(m) if m.contains("`type`")));
    }

    #[test]
    fn the_number_of_appends_in_progress_is_bounded() {
        let mut pending = Pending::new(2, 1_000);
        for _ in 0..2 {
            pending
                .start(Uuid::new_v4(), append(Instant::now()))
                .expect("start");
        }
        let (_, refusal) = pending
            .start(Uuid::new_v4(), append(Instant::now()))
            .expect_err("third");
        assert!(matches!(refusal, Refusal::BadRequest(m) if m.contains("at most 2")));
    }

    #[test]
    fn appends_expire_at_their_deadline() {
        let mut pending = Pending::new(4, 1_000);
        let now = Instant::now();
        let soon = Uuid::new_v4();
        let later = Uuid::new_v4();
        pending.start(soon, append(now)).expect("start");
        pending
            .start(later, append(now + Duration::from_secs(60)))
            .expect("start");
        assert_eq!(pending.next_deadline(), Some(now));
        let expired = pending.expire(now);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, soon);
        assert!(pending.contains(&later));
    }

    #[test]
    fn answered_ids_are_remembered_up_to_the_capacity() {
        let mut answered = Answered::new(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            answered.insert(*id);
        }
        assert!(!answered.contains(&ids[0]));
        assert!(answered.contains(&ids[1]));
        assert!(answered.contains(&ids[2]));
    }
}
