//! Which member should run each connector: deterministic, sticky and
//! balanced, so every member computes the same answer from the same view
//! and only the connectors that must move do.
//!
//! Connectors are placed per affinity, over the live members that take
//! connectors and whose role the affinity admits:
//! 1. each member's share is the group's size divided by the number of
//!    eligible members, give or take one (the first members by name get the
//!    larger shares: shares must not follow who holds what during a
//!    hand-over);
//! 2. a connector stays with its live owner while the owner is within its
//!    share (an owner over its share keeps those it scores highest on);
//! 3. the others go, in id order, to the member with room that scores
//!    highest for them (rendezvous hashing: a stable, spread-out choice).
//!
//! A group without an eligible member is left unassigned.

use std::collections::{BTreeMap, HashMap};

use crate::connector::{Affinity, ConnectorId, MemberRole};

/// A member that may take connectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub role: MemberRole,
}

/// A connector to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub id: ConnectorId,
    pub affinity: Affinity,
    /// The member that runs it now, if that member is alive.
    pub owner: Option<String>,
}

/// The member each connector should run on; `None` when no live member may
/// run it.
pub fn assign(
    connectors: &[Placement],
    members: &[Candidate],
) -> BTreeMap<ConnectorId, Option<String>> {
    let mut groups: BTreeMap<&str, Vec<&Placement>> = BTreeMap::new();
    for placement in connectors {
        groups
            .entry(placement.affinity.as_str())
            .or_default()
            .push(placement);
    }
    let mut assigned = BTreeMap::new();
    for group in groups.values() {
        let affinity = group[0].affinity;
        let mut eligible: Vec<&str> = members
            .iter()
            .filter(|m| affinity.admits(m.role))
            .map(|m| m.name.as_str())
            .collect();
        eligible.sort_unstable();
        eligible.dedup();
        assign_group(group, &eligible, &mut assigned);
    }
    assigned
}

fn assign_group(
    group: &[&Placement],
    eligible: &[&str],
    assigned: &mut BTreeMap<ConnectorId, Option<String>>,
) {
    if eligible.is_empty() {
        for placement in group {
            assigned.insert(placement.id.clone(), None);
        }
        return;
    }
    let mut held: HashMap<&str, Vec<&Placement>> = HashMap::new();
    for placement in group {
        if let Some(owner) = placement.owner.as_deref() {
            if eligible.contains(&owner) {
                held.entry(owner).or_default().push(placement);
            }
        }
    }
    let shares = shares(group.len(), eligible);
    let mut load: HashMap<&str, usize> = HashMap::new();
    let mut free = Vec::new();
    for &member in eligible {
        let mut kept = held.remove(member).unwrap_or_default();
        kept.sort_by_key(|p| std::cmp::Reverse(score(&p.id, member)));
        let share = shares[member];
        for (n, placement) in kept.into_iter().enumerate() {
            if n < share {
                assigned.insert(placement.id.clone(), Some(member.to_owned()));
                *load.entry(member).or_default() += 1;
            } else {
                free.push(placement);
            }
        }
    }
    for placement in group {
        let owned_by_eligible = placement
            .owner
            .as_deref()
            .is_some_and(|o| eligible.contains(&o));
        if !owned_by_eligible {
            free.push(*placement);
        }
    }
    free.sort_by(|a, b| a.id.cmp(&b.id));
    for placement in free {
        let best = eligible
            .iter()
            .filter(|m| load.get(*m).copied().unwrap_or(0) < shares[*m])
            .max_by_key(|m| score(&placement.id, m))
            .copied();
        if let Some(member) = best {
            *load.entry(member).or_default() += 1;
        }
        assigned.insert(placement.id.clone(), best.map(str::to_owned));
    }
}

/// Each member's share of `count` connectors: the mean, rounded down, plus
/// one for the first members by name. The shares depend on the count and
/// the members alone, never on who holds what at the moment: while
/// connectors are being handed over, holdings change one release at a
/// time, and shares that followed them would make members release and
/// claim more than the move needs. With shares by name, a member that
/// joins takes connectors from the others and no other member gains any.
fn shares<'a>(count: usize, eligible: &[&'a str]) -> HashMap<&'a str, usize> {
    let base = count / eligible.len();
    let extra = count % eligible.len();
    let mut by_name: Vec<&str> = eligible.to_vec();
    by_name.sort_unstable();
    by_name
        .into_iter()
        .enumerate()
        .map(|(n, m)| (m, base + usize::from(n < extra)))
        .collect()
}

/// The rendezvous score of a connector on a member (FNV-1a: stable across
/// processes and versions, unlike the standard library's hasher).
fn score(id: &ConnectorId, member: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id
        .as_str()
        .bytes()
        .chain(std::iter::once(0))
        .chain(member.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // A final mix, so near-identical inputs spread out.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Vec<Candidate> {
        names
            .iter()
            .map(|n| Candidate {
                name: (*n).to_owned(),
                role: MemberRole::Leader,
            })
            .collect()
    }

    fn connectors(n: usize) -> Vec<Placement> {
        (0..n)
            .map(|i| Placement {
                id: ConnectorId::parse(&format!("c{i}")).expect("id"),
                affinity: Affinity::Leader,
                owner: None,
            })
            .collect()
    }

    /// Leader connectors owned as `assigned` says.
    fn placed_as(assigned: &BTreeMap<ConnectorId, Option<String>>) -> Vec<Placement> {
        assigned
            .iter()
            .map(|(id, owner)| Placement {
                id: id.clone(),
                affinity: Affinity::Leader,
                owner: owner.clone(),
            })
            .collect()
    }

    fn counts(assigned: &BTreeMap<ConnectorId, Option<String>>) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for member in assigned.values().flatten() {
            *counts.entry(member.clone()).or_default() += 1;
        }
        counts
    }

    #[test]
    fn connectors_spread_within_one_of_the_mean() {
        for (n, m) in [(32, 4), (33, 4), (7, 3), (2, 5)] {
            let names: Vec<String> = (0..m).map(|i| format!("m{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let assigned = assign(&connectors(n), &members(&refs));
            assert_eq!(assigned.values().flatten().count(), n);
            let mean = n as f64 / m as f64;
            for (member, count) in counts(&assigned) {
                assert!(
                    (count as f64 - mean).abs() < 1.0,
                    "{member} runs {count}, mean {mean} ({n} over {m})"
                );
            }
        }
    }

    #[test]
    fn a_join_moves_only_what_the_newcomer_takes() {
        let before = assign(&connectors(32), &members(&["a", "b", "c"]));
        let placed = placed_as(&before);
        let after = assign(&placed, &members(&["a", "b", "c", "d"]));
        let moved: Vec<_> = after
            .iter()
            .filter(|(id, owner)| before[*id] != **owner)
            .collect();
        assert!(moved.iter().all(|(_, owner)| owner.as_deref() == Some("d")));
        assert_eq!(moved.len(), 8);
        assert_eq!(counts(&after).values().copied().collect::<Vec<_>>(), [8; 4]);
    }

    #[test]
    fn a_join_moves_connectors_only_to_the_newcomer_at_every_step_of_the_hand_over() {
        for count in [29, 30, 31, 32, 33] {
            let old = members(&["m0", "m1", "m2", "m3"]);
            let before = assign(&connectors(count), &old);
            let mut placed = placed_as(&before);
            let all = members(&["m0", "m1", "m2", "m3", "m4"]);
            // The old members release what they must, one at a time; at
            // each step every member computes the assignment again.
            loop {
                let now = assign(&placed, &all);
                for (id, owner) in &now {
                    let was = &before[id];
                    assert!(
                        owner == was || owner.as_deref() == Some("m4"),
                        "{count} connectors: {id} goes from {was:?} to {owner:?}"
                    );
                }
                let release = placed.iter_mut().find(|p| {
                    p.owner.is_some() && p.owner != now[&p.id] && p.owner.as_deref() != Some("m4")
                });
                match release {
                    Some(p) => p.owner = None,
                    None => break,
                }
            }
        }
    }

    #[test]
    fn a_death_moves_only_the_dead_members_connectors() {
        let before = assign(&connectors(32), &members(&["a", "b", "c", "d"]));
        let placed: Vec<Placement> = before
            .iter()
            .map(|(id, owner)| Placement {
                id: id.clone(),
                affinity: Affinity::Leader,
                owner: owner.clone().filter(|o| o != "d"),
            })
            .collect();
        let after = assign(&placed, &members(&["a", "b", "c"]));
        for (id, owner) in &after {
            if before[id].as_deref() != Some("d") {
                assert_eq!(&before[id], owner, "{id} stays where it was");
            }
        }
        let counts = counts(&after);
        assert!(counts.values().all(|c| (10..=11).contains(c)), "{counts:?}");
    }

    #[test]
    fn affinity_keeps_connectors_off_other_roles_and_waits_without_one() {
        let mut placed = connectors(4);
        placed[0].affinity = Affinity::Follower;
        placed[1].affinity = Affinity::Any;
        let leaders_only = assign(&placed, &members(&["a", "b"]));
        assert_eq!(leaders_only[&placed[0].id], None, "no follower alive");
        assert!(leaders_only[&placed[1].id].is_some());

        let mut with_follower = members(&["a", "b"]);
        with_follower.push(Candidate {
            name: "f".into(),
            role: MemberRole::Follower,
        });
        let assigned = assign(&placed, &with_follower);
        assert_eq!(assigned[&placed[0].id].as_deref(), Some("f"));
        for p in &placed[2..] {
            assert_ne!(assigned[&p.id].as_deref(), Some("f"), "leader-only");
        }
    }

    #[test]
    fn every_member_computes_the_same_answer_whatever_the_input_order() {
        let mut placed = connectors(20);
        let forwards = assign(&placed, &members(&["a", "b", "c"]));
        placed.reverse();
        let backwards = assign(&placed, &members(&["c", "a", "b"]));
        assert_eq!(forwards, backwards);
    }
}
