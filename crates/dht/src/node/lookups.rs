//! Driving lookups: starting them, sending their queries, finishing them and their announces.

use std::time::Instant;

use super::{Kind, Lookup, Node, Purpose, REBOOTSTRAP_AFTER};
use crate::event::{Event, LookupId, LookupResult};
use crate::id::NodeId;
use crate::krpc::{Query, Want};
use crate::lookup::Search;
use crate::routing::K;

impl Node {
    pub(super) fn announce_answered(&mut self, lookup: LookupId, acknowledged: bool) {
        let Some(l) = self.lookups.get_mut(&lookup) else {
            return;
        };
        if let Some((outstanding, acked)) = &mut l.announcing {
            *outstanding = outstanding.saturating_sub(1);
            *acked += usize::from(acknowledged);
        }
    }

    pub(super) fn start(&mut self, target: NodeId, kind: Kind, internal: bool) -> LookupId {
        let lookup = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let start = self.table.closest(&target, K * 2);
        self.lookups.insert(
            lookup,
            Lookup {
                search: Search::new(target, start, self.config.query_attempts),
                kind,
                internal,
                bootstrap: false,
                announcing: None,
            },
        );
        lookup
    }

    pub(super) fn step_all(&mut self, now: Instant) {
        let mut ids: Vec<LookupId> = self.lookups.keys().copied().collect();
        ids.sort_unstable(); // HashMap order is not seeded: sort so runs replay exactly.
        for lookup in ids {
            self.step(lookup, now);
        }
    }

    /// Sends what a lookup may send now, and finishes it when it is done.
    pub(super) fn step(&mut self, lookup: LookupId, now: Instant) {
        let Some(l) = self.lookups.get_mut(&lookup) else {
            return;
        };
        if let Some((outstanding, acknowledged)) = l.announcing {
            if outstanding == 0 {
                let info_hash = l.search.target();
                self.lookups.remove(&lookup);
                self.events.push_back(Event::AnnounceDone {
                    lookup,
                    info_hash,
                    acknowledged,
                });
            }
            return;
        }
        let target = l.search.target();
        let kind = l.kind;
        while self.pending.len() < self.config.max_outstanding_queries {
            let Some(l) = self.lookups.get_mut(&lookup) else {
                return;
            };
            let Some(node) = l.search.next_query() else {
                break;
            };
            let query = match kind {
                Kind::FindNode => Query::FindNode {
                    target,
                    want: Want::default(),
                },
                Kind::GetPeers | Kind::Announce { .. } => Query::GetPeers {
                    info_hash: target,
                    want: Want::default(),
                },
            };
            self.send_query(
                node.addr,
                Some(node.id),
                query,
                Purpose::Lookup(lookup),
                now,
            );
        }
        if self
            .lookups
            .get(&lookup)
            .is_some_and(|l| l.search.is_done())
        {
            self.finish(lookup, now);
        }
    }

    /// A lookup's search is done: report it, and for an announce send `announce_peer` to the
    /// closest nodes that gave a token.
    pub(super) fn finish(&mut self, lookup: LookupId, now: Instant) {
        let Some(l) = self.lookups.get_mut(&lookup) else {
            return;
        };
        let (target, kind) = (l.search.target(), l.kind);
        let (closest, rounds) = l.search.closest();
        let internal = l.internal;
        if l.bootstrap && self.table.len() < K {
            self.rebootstrap_at = Some(now + REBOOTSTRAP_AFTER);
        }
        let result = LookupResult {
            lookup,
            target,
            closest: closest.iter().map(|r| r.node).collect(),
            peers: l.search.peers().to_vec(),
            queries: l.search.queries(),
            rounds,
        };
        if !internal {
            self.events.push_back(Event::LookupDone(result));
        }
        let Kind::Announce { port, implied_port } = kind else {
            self.lookups.remove(&lookup);
            return;
        };
        let mut sent = 0;
        for responder in closest {
            let Some(token) = responder.token else {
                continue;
            };
            let query = Query::AnnouncePeer {
                info_hash: target,
                port,
                implied_port,
                token: &token,
            };
            let node = responder.node;
            sent += usize::from(self.send_query(
                node.addr,
                Some(node.id),
                query,
                Purpose::Announce(lookup),
                now,
            ));
        }
        if let Some(l) = self.lookups.get_mut(&lookup) {
            l.announcing = Some((sent, 0));
        }
        self.step(lookup, now);
    }
}
