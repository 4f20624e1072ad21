//! The sans-IO DHT node: datagrams and the time in, datagrams, timeouts and events out.
//!
//! This file holds the node's state, its public API and the handling of responses and
//! timeouts; `answer.rs` answers other nodes' queries, `lookups.rs` drives lookups.

mod answer;
mod lookups;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::bep42;
use crate::compact::NodeInfo;
use crate::config::Config;
use crate::event::{Event, LookupId, Transmit};
use crate::id::NodeId;
use crate::krpc::{self, Body, Message, Query, Response, Want};
use crate::lookup::Search;
use crate::routing::{Heard, Inserted, RoutingTable};
use crate::stats::Stats;
use crate::store::PeerStore;
use crate::throttle::Throttle;
use crate::token::Tokens;

/// How often expired peers are swept from the store.
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);
/// A bootstrap that leaves the table with fewer than k nodes is tried again this much later.
pub const REBOOTSTRAP_AFTER: Duration = Duration::from_secs(60);
/// The most bootstrap routers remembered for such retries.
const MAX_ROUTERS: usize = 16;
/// The most distinct addresses counted among the `ip` reports of responses (BEP 42).
const MAX_ADDRESS_VOTES: usize = 16;
/// Reports needed before an address counts as our external one.
const ADDRESS_QUORUM: u32 = 3;

/// A mainline DHT node (BEP 5) with no socket and no clock.
///
/// Feed it every datagram that arrives with [`handle_datagram`](Node::handle_datagram), call
/// [`handle_timeout`](Node::handle_timeout) when [`poll_timeout`](Node::poll_timeout)'s
/// instant has passed, and after either (or a command) drain
/// [`poll_transmit`](Node::poll_transmit) onto the socket and [`poll_event`](Node::poll_event)
/// to the application. Commands ([`bootstrap`](Node::bootstrap), [`get_peers`](Node::get_peers),
/// [`announce`](Node::announce)...) start lookups whose outcome comes back as [`Event`]s.
#[derive(Debug)]
pub struct Node {
    config: Config,
    id: NodeId,
    rng: fastrand::Rng,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    throttle: Throttle,
    pending: HashMap<u16, Pending>,
    next_transaction: u16,
    lookups: HashMap<LookupId, Lookup>,
    next_lookup: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    next_sweep: Instant,
    /// The routers of the last bootstrap, and when to bootstrap again while the table is thin.
    routers: Vec<SocketAddr>,
    rebootstrap_at: Option<Instant>,
    /// How many responders reported each address as ours (BEP 42 `ip`).
    address_votes: HashMap<IpAddr, u32>,
}

#[derive(Debug)]
struct Pending {
    to: SocketAddr,
    /// The id of the node asked, when known (not for bootstrap routers and `add_node`).
    node: Option<NodeId>,
    deadline: Instant,
    purpose: Purpose,
    /// How many times it was sent.
    attempts: u8,
    /// The datagram, when a timeout re-sends it as it is (same transaction id).
    resend: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy)]
enum Purpose {
    Ping,
    Lookup(LookupId),
    Announce(LookupId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    FindNode,
    GetPeers,
    Announce { port: u16, implied_port: bool },
}

#[derive(Debug)]
struct Lookup {
    search: Search,
    kind: Kind,
    /// Refreshes and repeated bootstraps: no events.
    internal: bool,
    /// A bootstrap: if it leaves the table thin, another follows.
    bootstrap: bool,
    /// Announces out, once the search is done: (outstanding, acknowledged).
    announcing: Option<(usize, usize)>,
}

impl Node {
    /// A node with an empty routing table. Its id is `config.id`, or random from the seed
    /// (made to fit BEP 42 when `config.external_ip` is a public address).
    pub fn new(config: Config, now: Instant) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let random = NodeId::random(&mut rng);
        let id = config.id.unwrap_or_else(|| match config.external_ip {
            Some(ip) if !bep42::is_exempt(ip) => bep42::id_for_ip(ip, rng.u8(..), &random),
            _ => random,
        });
        let tokens = Tokens::new(&mut rng, now);
        Node {
            table: RoutingTable::new(id, now),
            store: PeerStore::new(config.max_info_hashes, config.max_peers_per_info_hash),
            throttle: Throttle::new(config.answers_per_second, config.max_tracked_sources),
            next_transaction: rng.u16(..),
            config,
            id,
            rng,
            tokens,
            pending: HashMap::new(),
            lookups: HashMap::new(),
            next_lookup: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            next_sweep: now + EXPIRY_SWEEP,
            routers: Vec::new(),
            rebootstrap_at: None,
            address_votes: HashMap::new(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The nodes of the routing table (to save it, or to inspect it).
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.table.nodes().collect()
    }

    /// The `n` nodes of the routing table closest to `target`, closest first.
    pub fn closest_nodes(&self, target: &NodeId, n: usize) -> Vec<NodeInfo> {
        self.table.closest(target, n)
    }

    /// Our external address: [`Config::external_ip`] if it was given, else the address most
    /// responders reported in their `ip` field (BEP 42), once at least three did. A driver can
    /// restart the node with it in the config, so that its id fits BEP 42.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.config.external_ip.or_else(|| {
            self.address_votes
                .iter()
                .filter(|(_, votes)| **votes >= ADDRESS_QUORUM)
                .max_by_key(|(ip, votes)| (**votes, **ip))
                .map(|(ip, _)| *ip)
        })
    }

    /// The counters and table sizes now.
    pub fn stats(&self) -> Stats {
        Stats {
            routing_nodes: self.table.len(),
            buckets: self.table.bucket_count(),
            stored_info_hashes: self.store.info_hashes(),
            stored_peers: self.store.peers(),
            outstanding_queries: self.pending.len(),
            lookups: self.lookups.len(),
            tracked_sources: self.throttle.tracked(),
            ..self.stats.clone()
        }
    }

    /// Pings `addr`; if it answers, it enters the routing table (as a saved table is reloaded,
    /// or a known node added by hand).
    pub fn add_node(&mut self, addr: SocketAddr, now: Instant) {
        self.send_query(addr, None, Query::Ping, Purpose::Ping, now);
    }

    /// Puts saved nodes (a [`SavedState`](crate::SavedState)'s) back into the routing table,
    /// as questionable ones, and pings them: lookups can start from them at once, with no
    /// bootstrap router, and those that are gone are dropped as they fail to answer. Nodes of
    /// the other address family, our own id and ids that break BEP 42 are skipped.
    pub fn restore(&mut self, nodes: &[NodeInfo], now: Instant) {
        for node in nodes {
            if node.addr.is_ipv6() != self.config.ipv6 || node.id == self.id {
                continue;
            }
            if self.config.enforce_node_id && !bep42::id_matches_ip(&node.id, node.addr.ip()) {
                self.stats.bad_node_ids += 1;
                continue;
            }
            if let Inserted::Yes = self.table.insert(*node, Heard::Queried, false, now) {
                self.send_query(node.addr, Some(node.id), Query::Ping, Purpose::Ping, now);
            }
        }
    }

    /// Joins the DHT: a `find_node` lookup of our own id, starting from the routing table and
    /// from `routers` (addresses whose ids are not known, such as `router.bittorrent.com`).
    pub fn bootstrap(&mut self, routers: &[SocketAddr], now: Instant) -> LookupId {
        self.routers = routers.iter().take(MAX_ROUTERS).copied().collect();
        self.start_bootstrap(false, now)
    }

    fn start_bootstrap(&mut self, internal: bool, now: Instant) -> LookupId {
        let target = self.id;
        let lookup = self.start(target, Kind::FindNode, internal);
        if let Some(l) = self.lookups.get_mut(&lookup) {
            l.bootstrap = true;
        }
        for router in self.routers.clone() {
            let query = Query::FindNode {
                target,
                want: Want::default(),
            };
            if self.send_query(router, None, query, Purpose::Lookup(lookup), now) {
                if let Some(l) = self.lookups.get_mut(&lookup) {
                    l.search.sent_anonymous();
                }
            }
        }
        self.step(lookup, now);
        lookup
    }

    /// Looks up the nodes closest to `target`.
    pub fn find_node(&mut self, target: NodeId, now: Instant) -> LookupId {
        let lookup = self.start(target, Kind::FindNode, false);
        self.step(lookup, now);
        lookup
    }

    /// Looks up peers of `info_hash`: [`Event::PeersFound`] as they come, then
    /// [`Event::LookupDone`].
    pub fn get_peers(&mut self, info_hash: NodeId, now: Instant) -> LookupId {
        let lookup = self.start(info_hash, Kind::GetPeers, false);
        self.step(lookup, now);
        lookup
    }

    /// Looks up peers of `info_hash` as [`get_peers`](Node::get_peers) does, then announces
    /// that we download it on `port` to the closest nodes ([`Event::AnnounceDone`]). With
    /// `implied_port`, they take the port our datagrams come from instead (uTP sharing the
    /// DHT's socket, or a NAT).
    pub fn announce(
        &mut self,
        info_hash: NodeId,
        port: u16,
        implied_port: bool,
        now: Instant,
    ) -> LookupId {
        let kind = Kind::Announce { port, implied_port };
        let lookup = self.start(info_hash, kind, false);
        self.step(lookup, now);
        lookup
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Node::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queries = self.pending.values().map(|p| p.deadline).min();
        let mut next = self.tokens.next_rotation().min(self.next_sweep);
        if self.table.len() > 0 {
            next = next.min(self.table.next_refresh());
        }
        if let Some(at) = self.rebootstrap_at {
            next = next.min(at);
        }
        Some(queries.map_or(next, |q| q.min(next)))
    }

    /// Acts on every timer due at `now`: queries that timed out, the token secret, expired
    /// peers, and buckets that need a refresh.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(t, _)| *t)
            .collect();
        for transaction in expired {
            self.stats.timeouts += 1;
            let Some(pending) = self.pending.get_mut(&transaction) else {
                continue;
            };
            if pending.attempts < self.config.query_attempts {
                if let Some(contents) = &pending.resend {
                    pending.attempts += 1;
                    pending.deadline = now + self.config.query_timeout;
                    self.transmits.push_back(Transmit {
                        destination: pending.to,
                        contents: contents.clone(),
                    });
                    continue;
                }
            }
            if let Some(pending) = self.pending.remove(&transaction) {
                self.query_failed(pending, true, now);
            }
        }
        self.tokens.handle_timeout(&mut self.rng, now);
        if now >= self.next_sweep {
            self.store.expire(now);
            self.next_sweep = now + EXPIRY_SWEEP;
        }
        if self.rebootstrap_at.is_some_and(|at| at <= now) {
            self.rebootstrap_at = None;
            self.start_bootstrap(true, now);
        }
        if self.table.len() > 0 {
            while let Some(prefix) = self.table.take_stale_bucket(now) {
                let target = self.id.random_at_prefix(prefix, &mut self.rng);
                let lookup = self.start(target, Kind::FindNode, true);
                self.step(lookup, now);
            }
        }
        self.step_all(now);
    }

    /// Handles one datagram received from `from`.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) {
        let message = match Message::decode(datagram) {
            Ok(message) => message,
            Err(error) => {
                self.stats.malformed += 1;
                if let Some(transaction) = krpc::query_transaction(datagram) {
                    let code = match error {
                        crate::Error::UnknownMethod { .. } => krpc::ERROR_METHOD_UNKNOWN,
                        _ => krpc::ERROR_PROTOCOL,
                    };
                    let transaction = transaction.to_vec();
                    if self.may_answer(from, now) {
                        self.send_error(from, &transaction, code, &error.to_string());
                    }
                }
                return;
            }
        };
        match &message.body {
            Body::Query { id, query } => self.handle_query(from, &message, *id, query, now),
            Body::Response { id, response } => {
                self.handle_response(from, &message, *id, response, now)
            }
            Body::Error { .. } => {
                let Some(pending) = self.take_pending(from, message.transaction) else {
                    return;
                };
                self.stats.errors_received += 1;
                // It answered, so it is alive: the lookup skips it, the table keeps it.
                self.query_failed(pending, false, now);
                self.step_all(now);
            }
        }
    }

    fn take_pending(&mut self, from: SocketAddr, transaction: &[u8]) -> Option<Pending> {
        let key = <[u8; 2]>::try_from(transaction)
            .ok()
            .map(u16::from_be_bytes);
        match key.and_then(|k| self.pending.get(&k).map(|p| (k, p.to))) {
            Some((k, to)) if to == from => self.pending.remove(&k),
            _ => {
                self.stats.unmatched += 1;
                None
            }
        }
    }

    fn handle_response(
        &mut self,
        from: SocketAddr,
        message: &Message<'_>,
        id: NodeId,
        response: &Response<'_>,
        now: Instant,
    ) {
        let reported = message.ip;
        let Some(pending) = self.take_pending(from, message.transaction) else {
            return;
        };
        if pending.node.is_some_and(|expected| expected != id) {
            // Not the node we asked (it restarted with a new id, or lies): no answer from it.
            self.stats.unmatched += 1;
            self.query_failed(pending, true, now);
            self.step_all(now);
            return;
        }
        self.stats.responses_received += 1;
        if let Some(ip) = reported {
            let known = self.address_votes.len();
            match self.address_votes.get_mut(&ip.ip()) {
                Some(votes) => *votes += 1,
                None if known < MAX_ADDRESS_VOTES => {
                    self.address_votes.insert(ip.ip(), 1);
                }
                None => {}
            }
        }
        let node = NodeInfo { id, addr: from };
        self.learn(node, Heard::Responded, now);
        match pending.purpose {
            Purpose::Ping => {}
            Purpose::Lookup(lookup) => {
                let own = self.id;
                let family = if self.config.ipv6 {
                    &response.nodes6
                } else {
                    &response.nodes
                };
                let found: Vec<NodeInfo> = family.iter().filter(|n| n.id != own).copied().collect();
                let Some(l) = self.lookups.get_mut(&lookup) else {
                    return self.step_all(now);
                };
                let before = l.search.peers().len();
                if pending.node.is_none() {
                    l.search.anonymous_done(Some(node), &found, response.token);
                } else {
                    l.search
                        .responded(&node, &found, &response.values, response.token);
                }
                let new_peers = &l.search.peers()[before..];
                if !new_peers.is_empty() && !l.internal {
                    self.events.push_back(Event::PeersFound {
                        lookup,
                        info_hash: l.search.target(),
                        peers: new_peers.to_vec(),
                    });
                }
            }
            Purpose::Announce(lookup) => self.announce_answered(lookup, true),
        }
        self.step_all(now);
    }

    /// Puts a node heard from into the routing table, if BEP 42 allows, pinging the stale
    /// node it may replace.
    fn learn(&mut self, node: NodeInfo, heard: Heard, now: Instant) {
        if node.addr.is_ipv6() != self.config.ipv6 {
            return;
        }
        if self.config.enforce_node_id && !bep42::id_matches_ip(&node.id, node.addr.ip()) {
            self.stats.bad_node_ids += 1;
            return;
        }
        // Pings of stale nodes may take half the outstanding queries at most, so that a flood
        // of newcomers cannot crowd out our own lookups.
        let may_ping = self.pending.len() < self.config.max_outstanding_queries / 2;
        if let Inserted::Full { ping: Some(stale) } = self.table.insert(node, heard, may_ping, now)
        {
            self.send_query(stale.addr, Some(stale.id), Query::Ping, Purpose::Ping, now);
        }
    }

    /// A query failed: timed out (`silent`) or answered with an error.
    fn query_failed(&mut self, pending: Pending, silent: bool, now: Instant) {
        match pending.purpose {
            Purpose::Ping => {
                if let (Some(id), true) = (pending.node, silent) {
                    self.table.failed(&id, now);
                }
            }
            Purpose::Lookup(lookup) => {
                let Some(l) = self.lookups.get_mut(&lookup) else {
                    return;
                };
                match pending.node {
                    None => l.search.anonymous_done(None, &[], None),
                    Some(id) => {
                        let node = NodeInfo {
                            id,
                            addr: pending.to,
                        };
                        if l.search.failed(&node) && silent {
                            self.table.failed(&id, now);
                        }
                    }
                }
            }
            Purpose::Announce(lookup) => self.announce_answered(lookup, false),
        }
    }

    /// Sends a query unless the outstanding-query cap is reached; true when it went out.
    fn send_query(
        &mut self,
        to: SocketAddr,
        node: Option<NodeId>,
        query: Query<'_>,
        purpose: Purpose,
        now: Instant,
    ) -> bool {
        if self.pending.len() >= self.config.max_outstanding_queries {
            return false;
        }
        let mut transaction = self.next_transaction;
        while self.pending.contains_key(&transaction) {
            transaction = transaction.wrapping_add(1);
        }
        self.next_transaction = transaction.wrapping_add(1);
        let t = transaction.to_be_bytes();
        let message = Message {
            transaction: &t,
            version: Some(&self.config.version),
            ip: None,
            read_only: self.config.read_only,
            body: Body::Query { id: self.id, query },
        };
        let contents = message.encode();
        // Lookups retry silent nodes themselves (they may ask another node instead); the node
        // re-sends what nobody else will: bootstrap queries, pings of new contacts, announces.
        let resend =
            (node.is_none() || matches!(purpose, Purpose::Announce(_))).then(|| contents.clone());
        self.transmits.push_back(Transmit {
            destination: to,
            contents,
        });
        self.pending.insert(
            transaction,
            Pending {
                to,
                node,
                deadline: now + self.config.query_timeout,
                purpose,
                attempts: 1,
                resend,
            },
        );
        self.stats.queries_sent += 1;
        true
    }
}
