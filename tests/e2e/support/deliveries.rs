//! What a [`Receiver`] got, per connector: which member sent each request
//! and under which ownership epoch (the `esdb-connector-member` and
//! `esdb-connector-epoch` headers of the HTTP sink), and the check that a
//! connector never runs on two members at once.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Received, Receiver};

/// One request a receiver accepted for a connector.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `esdb-connector-member`.
    pub member: String,
    /// `esdb-connector-epoch`.
    pub epoch: u64,
    /// `esdb-record-log-position`.
    pub position: u64,
    pub arrived: Instant,
}

impl Delivery {
    fn of(request: &Received) -> Self {
        let member = request.header("esdb-connector-member");
        assert!(
            !member.is_empty(),
            "a request without its member: {request:?}"
        );
        let epoch = request.header("esdb-connector-epoch");
        Self {
            member: member.to_owned(),
            epoch: epoch
                .parse()
                .unwrap_or_else(|_| panic!("epoch header `{epoch}` of {request:?}")),
            position: request.position(),
            arrived: request.arrived,
        }
    }
}

/// What `receiver` accepted, by connector (`esdb-connector-id`), in
/// arrival order.
pub fn deliveries(receiver: &Receiver) -> BTreeMap<String, Vec<Delivery>> {
    let mut by_connector: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
    for request in receiver.accepted() {
        by_connector
            .entry(request.header("esdb-connector-id").to_owned())
            .or_default()
            .push(Delivery::of(&request));
    }
    by_connector
}

/// The log positions of `deliveries`, in arrival order.
pub fn positions(deliveries: &[Delivery]) -> Vec<u64> {
    deliveries.iter().map(|d| d.position).collect()
}

/// The ownership epochs of `deliveries`, each once, in arrival order: a
/// connector that was never handed over (nor restarted by a new claim) has
/// one.
pub fn epochs(deliveries: &[Delivery]) -> Vec<u64> {
    let mut epochs: Vec<u64> = deliveries.iter().map(|d| d.epoch).collect();
    epochs.dedup();
    epochs
}

/// Asserts that connector `id` ran on one member at a time: each ownership
/// epoch belongs to one member, and epochs never go back in arrival order
/// (once a member took over, the one before sent nothing more). Returns the
/// members in the order they owned it.
pub fn assert_one_owner_at_a_time(id: &str, deliveries: &[Delivery]) -> Vec<String> {
    let mut owners: Vec<(u64, String)> = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        match owners.last() {
            Some((epoch, member)) if *epoch == delivery.epoch => assert_eq!(
                member, &delivery.member,
                "{id}: epoch {epoch} delivered by two members (request #{index})"
            ),
            Some((epoch, member)) => assert!(
                delivery.epoch > *epoch,
                "{id}: {} delivered under epoch {} (request #{index}, position {}) after {member} took over with epoch {epoch}; owners so far: {owners:?}",
                delivery.member,
                delivery.epoch,
                delivery.position,
            ),
            None => {}
        }
        if owners
            .last()
            .is_none_or(|(epoch, _)| *epoch != delivery.epoch)
        {
            owners.push((delivery.epoch, delivery.member.clone()));
        }
    }
    let mut members: Vec<String> = owners.into_iter().map(|(_, member)| member).collect();
    members.dedup();
    members
}
