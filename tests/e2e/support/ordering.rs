//! The at-least-once, in-order delivery check shared by the crash tests.

/// Walks `received` (the log positions a receiver got, in delivery order)
/// against `expected` (every position that must arrive, in log order): each
/// delivery is the next expected event, or a replay that restarts at most
/// `max_replay` events back after a restart; there are at most
/// `max_replays` replays and every expected event arrives.
pub fn assert_in_order_with_bounded_replays(
    received: &[u64],
    expected: &[u64],
    max_replays: usize,
    max_replay: u64,
) {
    let index_of = |p: u64| {
        expected
            .binary_search(&p)
            .unwrap_or_else(|_| panic!("unexpected position {p}"))
    };
    let mut highest: Option<usize> = None;
    let mut previous: Option<usize> = None;
    let mut replay_lengths = Vec::new();
    for &position in received {
        let current = index_of(position);
        match previous {
            None => assert_eq!(current, 0, "delivery starts with the first event"),
            Some(prev) if current == prev + 1 => {}
            Some(prev) => {
                assert!(
                    current <= prev,
                    "gap: event #{current} delivered after #{prev}"
                );
                replay_lengths.push(prev - current + 1);
            }
        }
        previous = Some(current);
        highest = highest.max(Some(current));
    }
    assert_eq!(
        highest,
        expected.len().checked_sub(1),
        "every expected event arrives"
    );
    assert!(
        replay_lengths.len() <= max_replays,
        "{} replays, at most {max_replays} expected: {replay_lengths:?}",
        replay_lengths.len()
    );
    for length in &replay_lengths {
        assert!(
            *length as u64 <= max_replay,
            "a replay of {length} events goes further back than the last checkpoint (at most {max_replay}); replays: {replay_lengths:?}"
        );
    }
}
