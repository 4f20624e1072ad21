//! The seed's own view of what it already gave out: for [`REFUSAL_WINDOW`] after a piece went
//! to one connected peer, a seed rejects (BEP 6, with a suggest of a piece it has not given out)
//! requests for it from others, so N fast downloaders take distinct pieces from the seed and
//! trade the rest among themselves, whatever client they run. After the window the piece is
//! served to anyone who still asks (nobody they know had it), so no one is starved; peers
//! without the fast extension (who cannot be told "no") are always served, and so are peers
//! that never announced a piece they did not get from us: as far as we can tell we are their
//! only source (a downloader that knows nobody else). A newcomer gets [`NEWCOMER_GRACE`]
//! to find the others before that assumption is made: for that long after its first request,
//! a piece another connected peer took is refused to it as to a trading peer (downloaders that
//! start together would otherwise each take the whole file from us before any of them has
//! traded). Only a torrent that
//! started complete (the original seed, whose upload is scarce) refuses: one that became a seed
//! by downloading serves everyone.

use std::collections::{HashMap, HashSet};

use std::time::{Duration, Instant};
use torrentkit_wire::Bitfield;

use crate::{BlockRequest, ConnId};

/// How long a piece given to one peer is refused to the others.
pub(super) const REFUSAL_WINDOW: Duration = Duration::from_secs(30);
/// How long a piece whose taker left with it is refused even to peers nobody else connected
/// could serve it to: a downloader that completed and dropped us usually seeds on to them.
pub(super) const DEPARTED_WINDOW: Duration = Duration::from_secs(5);
/// How long after its first request a peer that has traded with nobody is still refused the
/// pieces another connected peer took: the time a client takes to dial the peers a tracker,
/// PEX or the DHT gave it along with us.
pub(super) const NEWCOMER_GRACE: Duration = Duration::from_secs(3);
/// How long a taker that never announced its piece may stay silent (no request, no have)
/// and still hold it: a peer that died without a FIN (SIGKILL over uTP, a pulled cable)
/// lingers until its connection times out, and meanwhile nobody else could have its pieces.
pub(super) const TAKER_DEADLINE: Duration = Duration::from_secs(8);

/// Which peer took each piece from us, and when.
#[derive(Debug)]
pub(super) struct SeedView {
    /// Per piece, the connection that took it first (`None` once it left having the piece)
    /// and when (`None`: not given out, or its taker left without it).
    given_to: Vec<Option<(Option<ConnId>, Instant)>>,
    /// Whether refusals are made at all (the torrent started complete).
    active: bool,
    /// Connections that announced a piece they did not get from us: they have other sources.
    traded: HashSet<ConnId>,
    /// Per connection, the pieces we served it (a block or more).
    served: HashMap<ConnId, Bitfield>,
    /// Per connection, when it first asked us for a block.
    first_asked: HashMap<ConnId, Instant>,
    /// Per connection, when it last said something that shows it alive (a request, a have).
    last_word: HashMap<ConnId, Instant>,
}

impl SeedView {
    pub(super) fn new(pieces: u32, active: bool) -> Self {
        SeedView {
            given_to: vec![None; pieces as usize],
            active,
            traded: HashSet::new(),
            served: HashMap::new(),
            first_asked: HashMap::new(),
            last_word: HashMap::new(),
        }
    }

    /// Whether `id` may have the block `r` at `now`; `true` also records `id` as the piece's
    /// taker when it had none. `held_elsewhere`: another connected peer has the piece (when
    /// its taker left, it is refused only then: the requester may have nowhere else to go).
    /// `taker_has`: whether a connection announced the piece (a taker that did keeps it
    /// however quiet it is: it can serve it to the others).
    pub(super) fn may_serve(
        &mut self,
        now: Instant,
        id: ConnId,
        r: BlockRequest,
        held_elsewhere: bool,
        taker_has: impl Fn(ConnId) -> bool,
    ) -> bool {
        let pieces = self.given_to.len() as u32;
        self.last_word.insert(id, now);
        let since = *self.first_asked.entry(id).or_insert(now);
        let newcomer = now < since + NEWCOMER_GRACE;
        let refusable = self.active && (newcomer || self.traded.contains(&id));
        let Some(slot) = self.given_to.get_mut(r.piece as usize) else {
            return true;
        };
        let serve = |served: &mut HashMap<ConnId, Bitfield>| {
            let b = served.entry(id).or_insert_with(|| Bitfield::new(pieces));
            let _ = b.insert(r.piece);
            true
        };
        let ok = match *slot {
            None => {
                *slot = Some((Some(id), now));
                true
            }
            _ if !refusable => true,
            Some((Some(taker), _)) if taker == id => true,
            Some((Some(taker), _))
                if fell_silent(&self.last_word, now, taker) && !taker_has(taker) =>
            {
                *slot = Some((Some(id), now));
                true
            }
            Some((None, left)) if !held_elsewhere => now >= left + DEPARTED_WINDOW,
            Some((_, at)) => now >= at + REFUSAL_WINDOW,
        };
        ok && serve(&mut self.served)
    }

    /// `id` announced `piece` at `now`: if it did not take it from us, it has other sources.
    pub(super) fn peer_has(&mut self, now: Instant, id: ConnId, piece: u32) {
        self.last_word.insert(id, now);
        let ours = self.served.get(&id).is_some_and(|b| b.contains(piece));
        if !ours {
            self.traded.insert(id);
        }
    }

    /// A piece never given out that `id` lacks, searched from `after` on: what to suggest
    /// with a refusal, so the peer asks for something we will serve.
    pub(super) fn suggestion(&self, after: u32, lacks: impl Fn(u32) -> bool) -> Option<u32> {
        let n = self.given_to.len() as u32;
        (1..=n)
            .map(|k| (after + k) % n)
            .find(|&p| self.given_to[p as usize].is_none() && lacks(p))
    }

    /// A connection closed: the pieces it took without getting them are free to give again;
    /// those it had (`had`) may live on in the swarm (a downloader that completed and dropped
    /// us, seeding others) or have left with it, so they are refused only to peers who could
    /// get them from another connected peer.
    /// `now`: when it left (the windows count from then).
    pub(super) fn remove_peer(&mut self, now: Instant, id: ConnId, had: impl Fn(u32) -> bool) {
        self.traded.remove(&id);
        self.served.remove(&id);
        self.first_asked.remove(&id);
        self.last_word.remove(&id);
        for (piece, slot) in self.given_to.iter_mut().enumerate() {
            if slot.is_some_and(|(t, _)| t == Some(id)) {
                if had(piece as u32) {
                    *slot = Some((None, now));
                } else {
                    *slot = None;
                }
            }
        }
    }
}

/// Whether `taker` has said nothing for [`TAKER_DEADLINE`] (`last_word`: per connection, when
/// it last did).
fn fell_silent(last_word: &HashMap<ConnId, Instant>, now: Instant, taker: ConnId) -> bool {
    last_word
        .get(&taker)
        .is_none_or(|&at| now >= at + TAKER_DEADLINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_goes_to_one_taker_and_others_are_refused_for_a_while() {
        let t0 = Instant::now();
        let (a, b) = (ConnId(1), ConnId(2));
        let blk = |piece, offset| BlockRequest {
            piece,
            offset,
            len: 16384,
        };
        let mut became = SeedView::new(3, false);
        assert!(became.may_serve(t0, a, blk(0, 0), true, |_| false));
        assert!(
            became.may_serve(t0, b, blk(0, 0), true, |_| false),
            "a seed by download serves all"
        );

        let mut v = SeedView::new(3, true);
        let mut lone = SeedView::new(3, true);
        assert!(lone.may_serve(t0, a, blk(0, 0), false, |_| false));
        assert!(lone.may_serve(t0, b, blk(1, 0), false, |_| false));
        assert!(
            lone.may_serve(t0 + NEWCOMER_GRACE, b, blk(0, 0), false, |_| false),
            "b got nothing elsewhere in its grace: served"
        );
        v.peer_has(t0, a, 2);
        v.peer_has(t0, b, 2);
        assert!(v.may_serve(t0, a, blk(0, 0), false, |_| false));
        assert!(
            v.may_serve(t0, a, blk(0, 16384), false, |_| false),
            "the taker keeps its piece"
        );
        assert!(
            !v.may_serve(t0, b, blk(0, 0), false, |_| false),
            "another peer is refused it"
        );
        assert_eq!(
            v.suggestion(0, |_| true),
            Some(1),
            "and told to take piece 1"
        );
        let later = t0 + REFUSAL_WINDOW;
        assert!(
            v.may_serve(later, b, blk(0, 0), false, |_| false),
            "after the window it is served"
        );
        assert!(
            v.may_serve(t0, b, blk(1, 0), false, |_| false),
            "piece 1 goes to b"
        );
        assert!(!v.may_serve(t0, a, blk(1, 0), false, |_| false));
        v.remove_peer(t0, b, |_| false);
        assert!(
            v.may_serve(t0, a, blk(1, 16384), false, |_| false),
            "b left without it: free again"
        );

        let mut w = SeedView::new(3, true);
        w.peer_has(t0, b, 1);
        assert!(w.may_serve(t0, a, blk(2, 0), false, |_| false));
        w.remove_peer(t0, a, |p| p == 2);
        assert!(
            !w.may_serve(t0, b, blk(2, 0), false, |_| false),
            "a left with piece 2 (and seeds on)"
        );
        let soon = t0 + DEPARTED_WINDOW;
        assert!(
            !w.may_serve(soon, b, blk(2, 0), true, |_| false),
            "another connected peer has it"
        );
        assert!(
            w.may_serve(soon, b, blk(2, 0), false, |_| false),
            "nobody else connected has it"
        );
    }

    #[test]
    fn a_newcomer_is_refused_what_others_hold_until_its_grace_ends() {
        let t0 = Instant::now();
        let (a, b) = (ConnId(1), ConnId(2));
        let blk = |piece| BlockRequest {
            piece,
            offset: 0,
            len: 16384,
        };
        let mut v = SeedView::new(3, true);
        assert!(
            v.may_serve(t0, a, blk(0), false, |_| false),
            "a takes piece 0 first"
        );
        assert!(
            !v.may_serve(t0, b, blk(0), false, |_| false),
            "b just arrived and a (connected) is taking piece 0: refused"
        );
        assert!(
            v.may_serve(t0, b, blk(1), false, |_| false),
            "a piece nobody took goes to the newcomer"
        );
        assert!(
            v.may_serve(t0 + NEWCOMER_GRACE, b, blk(0), true, |_| false),
            "b traded with nobody in its grace: we are its only source"
        );
    }

    #[test]
    fn a_silent_taker_holds_a_piece_it_never_announced_only_until_the_deadline() {
        let t0 = Instant::now();
        let (a, b, c) = (ConnId(1), ConnId(2), ConnId(3));
        let blk = |piece| BlockRequest {
            piece,
            offset: 0,
            len: 16384,
        };
        let mut v = SeedView::new(3, true);
        v.peer_has(t0, b, 2);
        v.peer_has(t0, c, 2);
        assert!(
            v.may_serve(t0, a, blk(0), false, |_| false),
            "a takes piece 0"
        );
        let quiet = t0 + TAKER_DEADLINE;
        assert!(
            !v.may_serve(quiet - Duration::from_millis(1), b, blk(0), false, |_| {
                false
            }),
            "a has been silent less than the deadline: it still holds piece 0"
        );
        assert!(
            !v.may_serve(quiet, b, blk(0), false, |t| t == a),
            "a announced piece 0: it holds it however quiet it is"
        );
        assert!(
            v.may_serve(quiet, b, blk(0), false, |_| false),
            "a said nothing for the deadline and never announced piece 0: b may have it"
        );
        assert!(
            !v.may_serve(quiet, c, blk(0), false, |_| false),
            "and b is its taker now"
        );
        assert!(v.may_serve(quiet, a, blk(1), false, |_| false));
        assert!(
            !v.may_serve(quiet + TAKER_DEADLINE / 2, c, blk(1), false, |_| false),
            "a spoke again (a request): it holds what it takes"
        );
    }
}
