//! Answering other nodes' queries: throttling, the routing table, tokens and the peer store.

use std::net::SocketAddr;
use std::time::Instant;

use super::Node;
use crate::compact::NodeInfo;
use crate::event::Transmit;
use crate::id::NodeId;
use crate::krpc::{self, Body, Message, Query, Response, Want};
use crate::routing::{Heard, K};
use crate::store::Stored;

impl Node {
    pub(super) fn may_answer(&mut self, from: SocketAddr, now: Instant) -> bool {
        if self.config.read_only {
            self.stats.read_only_dropped += 1;
            return false;
        }
        if !self.throttle.allow(from.ip(), now) {
            self.stats.throttled += 1;
            return false;
        }
        true
    }

    pub(super) fn handle_query(
        &mut self,
        from: SocketAddr,
        message: &Message<'_>,
        id: NodeId,
        query: &Query<'_>,
        now: Instant,
    ) {
        self.stats.queries_received += 1;
        if !self.may_answer(from, now) {
            return;
        }
        if !message.read_only {
            self.learn(NodeInfo { id, addr: from }, Heard::Queried, now);
        }
        let mut response = Response::default();
        match query {
            Query::Ping => {}
            Query::FindNode { target, want } => self.put_nodes(&mut response, target, *want, id),
            Query::GetPeers { info_hash, want } => {
                self.put_nodes(&mut response, info_hash, *want, id);
                let token = self.tokens.issue(from.ip());
                response.values = self.store.get(
                    info_hash,
                    from.is_ipv6(),
                    self.config.max_values_per_answer,
                    now,
                    &mut self.rng,
                );
                return self.send_response(from, message.transaction, response, Some(&token));
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
            } => {
                if !self.tokens.verify(from.ip(), token) {
                    self.stats.bad_tokens += 1;
                    return self.send_error(
                        from,
                        message.transaction,
                        krpc::ERROR_PROTOCOL,
                        "bad token",
                    );
                }
                let port = if *implied_port { from.port() } else { *port };
                let peer = SocketAddr::new(from.ip(), port);
                if self.store.announce(*info_hash, peer, now) == Stored::TooManyInfoHashes {
                    self.stats.announces_refused += 1;
                }
            }
        }
        self.send_response(from, message.transaction, response, None);
    }

    /// The closest nodes to `target`, in the family the querier wants, leaving out the querier
    /// itself (it has just entered our table, and knows where it is).
    pub(super) fn put_nodes(
        &self,
        response: &mut Response<'_>,
        target: &NodeId,
        want: Want,
        querier: NodeId,
    ) {
        let ours = if want == Want::default() {
            true
        } else if self.config.ipv6 {
            want.v6
        } else {
            want.v4
        };
        if !ours {
            return;
        }
        let mut nodes = self.table.closest(target, K + 1);
        nodes.retain(|n| n.id != querier);
        nodes.truncate(K);
        if self.config.ipv6 {
            response.nodes6 = nodes;
        } else {
            response.nodes = nodes;
        }
    }

    pub(super) fn send_response<'a>(
        &mut self,
        to: SocketAddr,
        transaction: &[u8],
        mut response: Response<'a>,
        token: Option<&'a [u8]>,
    ) {
        response.token = token;
        let id = self.id;
        self.send_reply(to, transaction, Body::Response { id, response });
        self.stats.answers_sent += 1;
    }

    pub(super) fn send_error(&mut self, to: SocketAddr, transaction: &[u8], code: i64, text: &str) {
        let body = Body::Error {
            code,
            message: text.as_bytes(),
        };
        self.send_reply(to, transaction, body);
        self.stats.errors_sent += 1;
    }

    /// Queues a response or error, telling the querier its address as we see it (BEP 42).
    pub(super) fn send_reply(&mut self, to: SocketAddr, transaction: &[u8], body: Body<'_>) {
        let message = Message {
            transaction,
            version: Some(&self.config.version),
            ip: Some(to),
            read_only: false,
            body,
        };
        self.transmits.push_back(Transmit {
            destination: to,
            contents: message.encode(),
        });
    }
}
