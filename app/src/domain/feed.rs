//! Reading an append-only log by its sequence numbers without missing a row.
//!
//! Rows get their number when inserted but become visible when their
//! transaction commits, so on PostgreSQL row 11 can be read before row 10
//! commits. A reader that simply moved past 11 would never see 10. The
//! cursor remembers the holes it jumped over and keeps looking for them for
//! a while: a hole fills when its transaction commits, or stays a hole for
//! good when it rolled back (then it is forgotten after `patience`).

use std::collections::BTreeMap;

/// At most this many holes are remembered (a huge jump is a restore or a
/// bulk import, not transactions in flight).
pub const MAX_HOLES: usize = 10_000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedCursor {
    /// The highest sequence number seen.
    last: i64,
    /// Numbers below `last` not seen yet, with when each was noticed (ms).
    holes: BTreeMap<i64, i64>,
}

impl FeedCursor {
    /// A cursor that has seen everything up to `last`.
    pub fn starting_after(last: i64) -> FeedCursor {
        FeedCursor { last, holes: BTreeMap::new() }
    }

    /// Read rows numbered above this next.
    pub fn last(&self) -> i64 {
        self.last
    }

    /// The holes still looked for, lowest first.
    pub fn holes(&self) -> impl Iterator<Item = i64> + '_ {
        self.holes.keys().copied()
    }

    /// Records that row `seq` was read at `now_ms`; true if it is new
    /// (deliver it), false if it was delivered before.
    pub fn accept(&mut self, seq: i64, now_ms: i64) -> bool {
        if seq > self.last {
            let skipped = (self.last + 1)..seq;
            for hole in skipped.take(MAX_HOLES.saturating_sub(self.holes.len())) {
                self.holes.insert(hole, now_ms);
            }
            self.last = seq;
            true
        } else {
            self.holes.remove(&seq).is_some()
        }
    }

    /// Stops looking for holes noticed `patience_ms` or longer ago.
    pub fn forget_old_holes(&mut self, now_ms: i64, patience_ms: i64) {
        self.holes.retain(|_, noticed| now_ms - *noticed < patience_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_late_commit_is_delivered_once() {
        let mut c = FeedCursor::starting_after(9);
        assert!(c.accept(11, 0), "11 commits first");
        assert_eq!(c.holes().collect::<Vec<_>>(), vec![10]);
        assert!(!c.accept(11, 1), "read again: not new");
        assert!(c.accept(10, 2), "10 commits later and is delivered");
        assert!(!c.accept(10, 3));
        assert_eq!(c.holes().count(), 0);
        assert!(!c.accept(5, 4), "older than the start: never delivered");
    }

    #[test]
    fn rolled_back_holes_are_forgotten() {
        let mut c = FeedCursor::starting_after(0);
        c.accept(3, 1_000);
        c.forget_old_holes(60_999, 60_000);
        assert_eq!(c.holes().count(), 2);
        c.forget_old_holes(61_000, 60_000);
        assert_eq!(c.holes().count(), 0);
        assert!(!c.accept(1, 61_001), "after patience a hole is not waited for");
    }

    #[test]
    fn holes_are_bounded() {
        let mut c = FeedCursor::starting_after(0);
        c.accept(1_000_000, 0);
        assert_eq!(c.holes().count(), MAX_HOLES);
    }

    proptest! {
        /// Rows committed in any order, read in batches between commits:
        /// each is delivered exactly once.
        #[test]
        fn every_row_once_in_any_commit_order(order in Just((1..=40i64).collect::<Vec<_>>()).prop_shuffle(), cuts in prop::collection::vec(0usize..40, 0..10)) {
            let mut c = FeedCursor::starting_after(0);
            let mut committed = vec![];
            let mut delivered = vec![];
            let read = |c: &mut FeedCursor, committed: &[i64], delivered: &mut Vec<i64>| {
                // What a reader sees: committed rows above `last`, and holes.
                let holes: Vec<i64> = c.holes().collect();
                let mut rows: Vec<i64> = committed.iter().copied().filter(|s| *s > c.last() || holes.contains(s)).collect();
                rows.sort();
                for s in rows {
                    if c.accept(s, 0) {
                        delivered.push(s);
                    }
                }
            };
            for (i, seq) in order.iter().enumerate() {
                committed.push(*seq);
                if cuts.contains(&i) {
                    read(&mut c, &committed, &mut delivered);
                }
            }
            read(&mut c, &committed, &mut delivered);
            delivered.sort();
            prop_assert_eq!(delivered, (1..=40).collect::<Vec<_>>());
        }
    }
}
