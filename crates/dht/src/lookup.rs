//! One iterative lookup (BEP 5's `find_node`/`get_peers` walk): the candidates ordered by
//! distance to the target, alpha queries in flight, done when the k closest have all answered.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use crate::compact::NodeInfo;
use crate::id::{Distance, NodeId};
use crate::routing::K;

/// Queries one lookup keeps in flight at once (BEP 5's alpha).
pub const ALPHA: usize = 3;
/// The most candidates a lookup remembers; farther ones are forgotten.
const MAX_CANDIDATES: usize = 8 * K;
/// The most queries one lookup sends, a hard stop whatever the network answers.
pub const MAX_LOOKUP_QUERIES: u32 = 256;
/// The most distinct peers one `get_peers` lookup collects.
pub const MAX_LOOKUP_PEERS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not asked yet (or to be asked again after `attempts` timeouts).
    Waiting { attempts: u8 },
    /// A query is out.
    InFlight { attempts: u8 },
    /// It answered; `token` is what a `get_peers` answer carried.
    Responded { token: Option<Vec<u8>> },
    /// It never answered.
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    node: NodeInfo,
    state: State,
    /// How many answers away from our routing table it was learnt (0: from the table).
    hop: u32,
}

/// A node that answered, with the token it gave (for `announce_peer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Responder {
    pub(crate) node: NodeInfo,
    pub(crate) token: Option<Vec<u8>>,
}

/// The search state of one lookup.
#[derive(Debug, Clone)]
pub(crate) struct Search {
    target: NodeId,
    candidates: BTreeMap<Distance, Candidate>,
    /// Queries out to nodes whose id we do not know yet (bootstrap routers).
    anonymous_in_flight: usize,
    in_flight: usize,
    queries: u32,
    peers: Vec<SocketAddr>,
    seen_peers: HashSet<SocketAddr>,
    attempts: u8,
}

impl Search {
    /// A search for `target` starting from `start` (the closest nodes of our table); each node
    /// is tried `attempts` times before it counts as failed.
    pub(crate) fn new(target: NodeId, start: Vec<NodeInfo>, attempts: u8) -> Self {
        let mut search = Search {
            target,
            candidates: BTreeMap::new(),
            anonymous_in_flight: 0,
            in_flight: 0,
            queries: 0,
            peers: Vec::new(),
            seen_peers: HashSet::new(),
            attempts: attempts.max(1),
        };
        for node in start {
            search.add_candidate(node, 0);
        }
        search
    }

    pub(crate) fn target(&self) -> NodeId {
        self.target
    }

    pub(crate) fn queries(&self) -> u32 {
        self.queries
    }

    fn add_candidate(&mut self, node: NodeInfo, hop: u32) {
        let distance = node.id.distance(&self.target);
        if let Some(known) = self.candidates.get_mut(&distance) {
            // Rounds count the shortest chain of answers that led to a node.
            known.hop = known.hop.min(hop);
            return;
        }
        if self.candidates.len() >= MAX_CANDIDATES {
            // Full: a new candidate only enters in place of a farther one nobody is asking.
            let Some((&farthest, c)) = self.candidates.iter().next_back() else {
                return;
            };
            if farthest < distance || matches!(c.state, State::InFlight { .. }) {
                return;
            }
            self.candidates.remove(&farthest);
        }
        self.candidates.insert(
            distance,
            Candidate {
                node,
                state: State::Waiting { attempts: 0 },
                hop,
            },
        );
    }

    /// A query went out to a node whose id is not known yet (a bootstrap router).
    pub(crate) fn sent_anonymous(&mut self) {
        self.anonymous_in_flight += 1;
        self.queries += 1;
    }

    /// An anonymous query was answered by `node` (or timed out, when `node` is `None`).
    pub(crate) fn anonymous_done(
        &mut self,
        node: Option<NodeInfo>,
        found: &[NodeInfo],
        token: Option<&[u8]>,
    ) {
        self.anonymous_in_flight = self.anonymous_in_flight.saturating_sub(1);
        if let Some(node) = node {
            self.add_candidate(node, 0);
            let distance = node.id.distance(&self.target);
            if let Some(c) = self.candidates.get_mut(&distance) {
                if matches!(c.state, State::Waiting { .. }) {
                    c.state = State::Responded {
                        token: token.map(<[u8]>::to_vec),
                    };
                }
            }
            for found in found {
                self.add_candidate(*found, 1);
            }
        }
    }

    /// The next node to query, if a slot is free and a node among the k closest still needs
    /// asking; it is marked in flight.
    pub(crate) fn next_query(&mut self) -> Option<NodeInfo> {
        if self.in_flight + self.anonymous_in_flight >= ALPHA || self.queries >= MAX_LOOKUP_QUERIES
        {
            return None;
        }
        let mut live = 0;
        for candidate in self.candidates.values_mut() {
            if live >= K {
                return None;
            }
            match candidate.state {
                State::Failed => continue,
                State::Waiting { attempts } => {
                    candidate.state = State::InFlight { attempts };
                    self.in_flight += 1;
                    self.queries += 1;
                    return Some(candidate.node);
                }
                State::InFlight { .. } | State::Responded { .. } => live += 1,
            }
        }
        None
    }

    /// True when the k closest live candidates have all answered (or no query can be sent).
    pub(crate) fn is_done(&self) -> bool {
        if self.anonymous_in_flight > 0 {
            return false;
        }
        // Past the query cap a waiting node will never be asked: it no longer holds us up.
        let capped = self.queries >= MAX_LOOKUP_QUERIES;
        let mut live = 0;
        for candidate in self.candidates.values() {
            if live >= K {
                break;
            }
            match candidate.state {
                State::Failed => {}
                State::Responded { .. } => live += 1,
                State::Waiting { .. } if capped => {}
                State::Waiting { .. } | State::InFlight { .. } => return false,
            }
        }
        true
    }

    fn in_flight_to(&mut self, node: &NodeInfo) -> Option<&mut Candidate> {
        let c = self.candidates.get_mut(&node.id.distance(&self.target))?;
        (c.node.addr == node.addr && matches!(c.state, State::InFlight { .. })).then_some(c)
    }

    /// `node` answered with `found` closer nodes, `peers` and a `token`.
    pub(crate) fn responded(
        &mut self,
        node: &NodeInfo,
        found: &[NodeInfo],
        peers: &[SocketAddr],
        token: Option<&[u8]>,
    ) {
        let Some(c) = self.in_flight_to(node) else {
            return;
        };
        c.state = State::Responded {
            token: token.map(<[u8]>::to_vec),
        };
        let hop = c.hop + 1;
        self.in_flight -= 1;
        for found in found {
            self.add_candidate(*found, hop);
        }
        for peer in peers {
            if self.peers.len() < MAX_LOOKUP_PEERS && self.seen_peers.insert(*peer) {
                self.peers.push(*peer);
            }
        }
    }

    /// The query to `node` timed out or got an error. Returns true when the node has now
    /// used up its attempts (the routing table should hear of it).
    pub(crate) fn failed(&mut self, node: &NodeInfo) -> bool {
        let max = self.attempts;
        let Some(c) = self.in_flight_to(node) else {
            return false;
        };
        let State::InFlight { attempts } = c.state else {
            return false;
        };
        let attempts = attempts + 1;
        let gave_up = attempts >= max;
        c.state = if gave_up {
            State::Failed
        } else {
            State::Waiting { attempts }
        };
        self.in_flight -= 1;
        gave_up
    }

    /// Peers collected so far (get_peers).
    pub(crate) fn peers(&self) -> &[SocketAddr] {
        &self.peers
    }

    /// The k closest nodes that answered, closest first, and how many answers away from our
    /// table the farthest of them was found (the lookup's rounds).
    pub(crate) fn closest(&self) -> (Vec<Responder>, u32) {
        let mut rounds = 0;
        let closest = self
            .candidates
            .values()
            .filter_map(|c| match &c.state {
                State::Responded { token } => Some((c, token)),
                _ => None,
            })
            .take(K)
            .map(|(c, token)| {
                rounds = rounds.max(c.hop);
                Responder {
                    node: c.node,
                    token: token.clone(),
                }
            })
            .collect();
        (closest, rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> NodeInfo {
        let mut id = [0; 20];
        id[0] = n;
        NodeInfo {
            id: NodeId(id),
            addr: SocketAddr::from(([10, 0, 0, n], 6881)),
        }
    }

    #[test]
    fn alpha_queries_then_convergence_on_the_closest() {
        let target = NodeId([0; 20]);
        let mut search = Search::new(target, (10..20).map(node).collect(), 1);
        let first: Vec<_> = std::iter::from_fn(|| search.next_query()).collect();
        assert_eq!(
            first,
            vec![node(10), node(11), node(12)],
            "alpha = 3, closest first"
        );
        // Node 10 knows closer nodes 1..=9.
        search.responded(
            &node(10),
            &(1..=9).map(node).collect::<Vec<_>>(),
            &[],
            Some(b"t"),
        );
        assert_eq!(search.next_query(), Some(node(1)));
        assert!(!search.is_done());
        let mut sent = 0;
        while !search.is_done() {
            let Some(next) = search.next_query() else {
                // Answer whatever is in flight.
                for n in 1..20 {
                    search.responded(&node(n), &[], &[], None);
                }
                continue;
            };
            sent += 1;
            assert!(next.id.0[0] < 13, "never asks past the 8 closest: {next:?}");
        }
        let (closest, _) = search.closest();
        let ids: Vec<u8> = closest.iter().map(|r| r.node.id.0[0]).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(sent <= 10);
        assert_eq!(closest.len(), K);
    }

    #[test]
    fn a_timed_out_node_is_retried_then_skipped() {
        let mut search = Search::new(NodeId([0; 20]), vec![node(1), node(2)], 2);
        assert_eq!(search.next_query(), Some(node(1)));
        assert_eq!(search.next_query(), Some(node(2)));
        assert!(!search.failed(&node(1)), "first timeout: retry");
        assert_eq!(search.next_query(), Some(node(1)));
        assert!(search.failed(&node(1)), "second timeout: give up");
        search.responded(&node(2), &[], &[SocketAddr::from(([1, 1, 1, 1], 1))], None);
        assert!(search.is_done());
        assert_eq!(search.closest().0.len(), 1);
        assert_eq!(search.peers().len(), 1);
        // An answer from a node we did not ask changes nothing.
        search.responded(&node(9), &[node(3)], &[], None);
        assert!(search.is_done());
    }
}
