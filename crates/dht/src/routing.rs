//! The routing table of BEP 5: k-buckets over the 160-bit id space, the bucket that holds our
//! own id split when full, bad nodes replaced from a per-bucket replacement cache.

use std::time::{Duration, Instant};

use crate::compact::NodeInfo;
use crate::id::NodeId;

/// The bucket size, BEP 5's k.
pub const K: usize = 8;
/// A node that has not been heard from for this long is questionable; a bucket that has not
/// changed for this long is refreshed.
pub const QUESTIONABLE_AFTER: Duration = Duration::from_secs(15 * 60);
/// A node that failed to answer this many queries in a row is bad and gets replaced.
pub const BAD_AFTER_FAILURES: u8 = 2;

/// How a node was heard from, which decides how much it is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// It answered one of our queries: a good node.
    Responded,
    /// It sent us a query: questionable until it answers one of ours.
    Queried,
}

/// What inserting a node did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// It is in the table now (new, refreshed, or in place of a bad node).
    Yes,
    /// Its bucket is full of nodes that are not bad: it waits in the replacement cache, and
    /// `ping`, when given, is the stalest questionable node of that bucket, to be pinged so that
    /// it is replaced if it does not answer.
    Full {
        /// The node to ping.
        ping: Option<NodeInfo>,
    },
    /// Our own id, or an address already in the table under another id.
    Refused,
}

#[derive(Debug, Clone)]
struct Entry {
    node: NodeInfo,
    last_seen: Instant,
    responded: bool,
    failures: u8,
    pinged: bool,
}

impl Entry {
    fn new(node: NodeInfo, heard: Heard, now: Instant) -> Self {
        Entry {
            node,
            last_seen: now,
            responded: heard == Heard::Responded,
            failures: 0,
            pinged: false,
        }
    }

    fn is_bad(&self) -> bool {
        self.failures >= BAD_AFTER_FAILURES
    }

    fn is_good(&self, now: Instant) -> bool {
        !self.is_bad()
            && self.responded
            && now.saturating_duration_since(self.last_seen) < QUESTIONABLE_AFTER
    }
}

#[derive(Debug, Clone)]
struct Bucket {
    entries: Vec<Entry>,
    replacements: Vec<Entry>,
    last_changed: Instant,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Bucket {
            entries: Vec::with_capacity(K),
            replacements: Vec::new(),
            last_changed: now,
        }
    }

    fn add_replacement(&mut self, entry: Entry) {
        self.replacements.retain(|r| r.node.id != entry.node.id);
        if self.replacements.len() >= K {
            self.replacements.remove(0);
        }
        self.replacements.push(entry);
    }
}

/// The table: bucket `i` holds the nodes sharing exactly `i` leading bits with our id, except
/// the last one, which holds every node sharing at least that many (it contains our own id and
/// is the one that splits).
#[derive(Debug, Clone)]
pub(crate) struct RoutingTable {
    own: NodeId,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    pub(crate) fn new(own: NodeId, now: Instant) -> Self {
        RoutingTable {
            own,
            buckets: vec![Bucket::new(now)],
        }
    }

    fn index(&self, id: &NodeId) -> usize {
        self.own.common_prefix_len(id).min(self.buckets.len() - 1)
    }

    fn find(&mut self, id: &NodeId) -> Option<&mut Entry> {
        let i = self.index(id);
        self.buckets[i]
            .entries
            .iter_mut()
            .find(|e| e.node.id == *id)
    }

    /// The number of nodes in the table (not counting replacement caches).
    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// The number of buckets.
    pub(crate) fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Every node in the table.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = NodeInfo> + '_ {
        self.buckets
            .iter()
            .flat_map(|b| b.entries.iter().map(|e| e.node))
    }

    /// Adds `node` or refreshes it, as BEP 5 describes. `may_ping` false: the caller cannot
    /// send a ping now, so none is asked for (and no node is marked as being pinged).
    pub(crate) fn insert(
        &mut self,
        node: NodeInfo,
        heard: Heard,
        may_ping: bool,
        now: Instant,
    ) -> Inserted {
        if node.id == self.own {
            return Inserted::Refused;
        }
        if let Some(entry) = self.find(&node.id) {
            if entry.node.addr != node.addr {
                // Keep the address we know: a node id does not move without a new id.
                return Inserted::Refused;
            }
            entry.last_seen = now;
            if heard == Heard::Responded {
                entry.responded = true;
                entry.failures = 0;
                entry.pinged = false;
                let i = self.index(&node.id);
                self.buckets[i].last_changed = now;
            }
            return Inserted::Yes;
        }
        if self.nodes().any(|n| n.addr == node.addr) {
            return Inserted::Refused;
        }
        loop {
            let i = self.index(&node.id);
            let count = self.buckets.len();
            if self.buckets[i].entries.len() >= K && i == count - 1 && count < 160 {
                self.split_last(now);
                continue;
            }
            let bucket = &mut self.buckets[i];
            if bucket.entries.len() < K {
                bucket.entries.push(Entry::new(node, heard, now));
                bucket.last_changed = now;
                return Inserted::Yes;
            }
            if let Some(bad) = bucket.entries.iter_mut().find(|e| e.is_bad()) {
                *bad = Entry::new(node, heard, now);
                bucket.last_changed = now;
                return Inserted::Yes;
            }
            bucket.add_replacement(Entry::new(node, heard, now));
            if !may_ping {
                return Inserted::Full { ping: None };
            }
            let ping = bucket
                .entries
                .iter_mut()
                .filter(|e| !e.is_good(now) && !e.pinged)
                .min_by_key(|e| e.last_seen)
                .map(|e| {
                    e.pinged = true;
                    e.node
                });
            return Inserted::Full { ping };
        }
    }

    fn split_last(&mut self, now: Instant) {
        let depth = self.buckets.len() - 1;
        let own = self.own;
        let old = self
            .buckets
            .last_mut()
            .expect("the table always has a bucket");
        let deeper = |e: &Entry| own.common_prefix_len(&e.node.id) > depth;
        let mut new = Bucket::new(now);
        new.entries = old.entries.iter().filter(|e| deeper(e)).cloned().collect();
        new.replacements = old
            .replacements
            .iter()
            .filter(|e| deeper(e))
            .cloned()
            .collect();
        old.entries.retain(|e| !deeper(e));
        old.replacements.retain(|e| !deeper(e));
        new.last_changed = old.last_changed;
        self.buckets.push(new);
    }

    /// Records that `id` did not answer a query. Once it is bad it is swapped for the freshest
    /// node of the replacement cache, if there is one.
    pub(crate) fn failed(&mut self, id: &NodeId, now: Instant) {
        let i = self.index(id);
        let bucket = &mut self.buckets[i];
        let Some(at) = bucket.entries.iter().position(|e| e.node.id == *id) else {
            return;
        };
        let entry = &mut bucket.entries[at];
        entry.failures = entry.failures.saturating_add(1);
        entry.pinged = false;
        if entry.is_bad() {
            if let Some(replacement) = bucket.replacements.pop() {
                bucket.entries[at] = replacement;
                bucket.last_changed = now;
            }
        }
    }

    /// The `n` non-bad nodes closest to `target`, closest first.
    pub(crate) fn closest(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        let mut all: Vec<NodeInfo> = self
            .buckets
            .iter()
            .flat_map(|b| b.entries.iter().filter(|e| !e.is_bad()).map(|e| e.node))
            .collect();
        all.sort_unstable_by_key(|node| node.id.distance(target));
        all.truncate(n);
        all
    }

    /// When the next bucket falls due for a refresh.
    pub(crate) fn next_refresh(&self) -> Instant {
        self.buckets
            .iter()
            .map(|b| b.last_changed)
            .min()
            .expect("the table always has a bucket")
            + QUESTIONABLE_AFTER
    }

    /// The prefix length of one bucket due for refresh, marking it refreshed now: the caller
    /// looks up a random id at that prefix.
    pub(crate) fn take_stale_bucket(&mut self, now: Instant) -> Option<usize> {
        let (i, bucket) = self
            .buckets
            .iter_mut()
            .enumerate()
            .find(|(_, b)| b.last_changed + QUESTIONABLE_AFTER <= now)?;
        bucket.last_changed = now;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn node(first: u8, n: u16) -> NodeInfo {
        let mut id = [0; 20];
        id[0] = first;
        id[1..3].copy_from_slice(&n.to_be_bytes());
        NodeInfo {
            id: NodeId(id),
            addr: SocketAddr::from(([10, 0, (n >> 8) as u8, n as u8], 6881 + u16::from(first))),
        }
    }

    #[test]
    fn the_bucket_holding_our_id_splits_and_far_buckets_do_not() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        // Eight far nodes (first bit 1) fill the only bucket...
        for n in 0..8 {
            assert_eq!(
                table.insert(node(0x80, n), Heard::Responded, true, now),
                Inserted::Yes
            );
        }
        assert_eq!(table.bucket_count(), 1);
        // ...and a near one splits it: the far nodes stay in bucket 0, the near one goes deeper.
        assert_eq!(
            table.insert(node(0x01, 0), Heard::Responded, true, now),
            Inserted::Yes
        );
        assert_eq!(table.bucket_count(), 2);
        assert_eq!(table.len(), 9);
        // The far bucket is full and does not split: a ninth far node waits as a replacement.
        let outcome = table.insert(node(0x80, 8), Heard::Responded, true, now);
        assert_eq!(outcome, Inserted::Full { ping: None }, "all eight are good");
        assert_eq!(table.len(), 9);
        assert_eq!(table.bucket_count(), 2);
    }

    #[test]
    fn a_bad_node_is_replaced_from_the_cache() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        for n in 0..8 {
            table.insert(node(0x80, n), Heard::Queried, true, now);
        }
        // They are questionable (never answered), so the newcomer asks for one to be pinged.
        let Inserted::Full { ping: Some(stale) } =
            table.insert(node(0x80, 100), Heard::Responded, true, now)
        else {
            panic!("expected a ping request");
        };
        table.failed(&stale.id, now);
        assert!(
            table.nodes().any(|n| n.id == stale.id),
            "one failure is not bad yet"
        );
        table.failed(&stale.id, now);
        assert!(
            !table.nodes().any(|n| n.id == stale.id),
            "two failures make it bad"
        );
        assert!(
            table.nodes().any(|n| n.id == node(0x80, 100).id),
            "the replacement took its place"
        );
    }

    #[test]
    fn a_ping_refused_by_the_caller_is_asked_for_again_later() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        for n in 0..8 {
            table.insert(node(0x80, n), Heard::Queried, true, now);
        }
        let busy = table.insert(node(0x80, 100), Heard::Responded, false, now);
        assert_eq!(busy, Inserted::Full { ping: None });
        let free = table.insert(node(0x80, 101), Heard::Responded, true, now);
        assert!(matches!(free, Inserted::Full { ping: Some(_) }), "{free:?}");
    }

    #[test]
    fn a_bad_node_without_replacement_gives_way_to_the_next_newcomer() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        for n in 0..8 {
            table.insert(node(0x80, n), Heard::Responded, true, now);
        }
        table.failed(&node(0x80, 3).id, now);
        table.failed(&node(0x80, 3).id, now);
        assert_eq!(
            table.insert(node(0x80, 50), Heard::Responded, true, now),
            Inserted::Yes
        );
        assert!(!table.nodes().any(|n| n.id == node(0x80, 3).id));
        assert_eq!(table.closest(&node(0x80, 50).id, 1), vec![node(0x80, 50)]);
    }

    #[test]
    fn own_id_and_moved_addresses_are_refused() {
        let now = Instant::now();
        let mut table = RoutingTable::new(node(0x80, 1).id, now);
        assert_eq!(
            table.insert(node(0x80, 1), Heard::Responded, true, now),
            Inserted::Refused
        );
        table.insert(node(0x40, 1), Heard::Responded, true, now);
        let mut moved = node(0x40, 1);
        moved.addr = SocketAddr::from(([1, 2, 3, 4], 1));
        assert_eq!(
            table.insert(moved, Heard::Responded, true, now),
            Inserted::Refused
        );
        let mut same_addr = node(0x41, 9);
        same_addr.addr = node(0x40, 1).addr;
        assert_eq!(
            table.insert(same_addr, Heard::Responded, true, now),
            Inserted::Refused
        );
    }

    #[test]
    fn buckets_fall_due_for_refresh_after_fifteen_minutes() {
        let now = Instant::now();
        let mut table = RoutingTable::new(NodeId([0; 20]), now);
        assert_eq!(table.take_stale_bucket(now), None);
        assert_eq!(table.next_refresh(), now + QUESTIONABLE_AFTER);
        let later = now + QUESTIONABLE_AFTER;
        assert_eq!(table.take_stale_bucket(later), Some(0));
        assert_eq!(
            table.take_stale_bucket(later),
            None,
            "refreshing marks it changed"
        );
    }
}
