//! The piece picker: which blocks to request from which peer (the readers' windows first, then
//! partial pieces, then rarest first with a random first piece, endgame, or sequential), and
//! what is in flight. Pieces of priority 0 (skipped files) are never requested unless a
//! reader's window covers them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::priority::{Priority, Window};

use crate::storage::{piece_size, Layout, BLOCK_SIZE};
use crate::{ConnId, Rng};
use torrentkit_wire::Bitfield;

/// Settings for [`Picker`].
#[derive(Debug, Clone)]
pub struct PickerConfig {
    /// Bytes per requested block; 16 KiB, which every client accepts.
    pub block_size: u32,
    /// Until this many pieces are complete, new pieces are picked at random rather than rarest
    /// first, so there is something to trade as soon as possible.
    pub random_first_pieces: u32,
    /// Pick pieces in index order (for streaming) instead of rarest first.
    pub sequential: bool,
    /// In endgame mode, how many peers may have the same block in flight at once.
    pub endgame_max_requesters: usize,
    /// Endgame duplicates start only once at most this many blocks are still unreceived (the
    /// last blocks, so a slow peer does not hold up the finish, without re-downloading much).
    pub endgame_blocks: usize,
    /// At most this many duplicate requests per [`Picker::pick`]: few at a time, since each
    /// may arrive before its cancel and be wasted.
    pub endgame_per_pick: usize,
    /// Each piece's priority (file selection: [`crate::piece_priorities`]); empty means every
    /// piece [`Priority::NORMAL`]. Pieces of priority 0 are not downloaded.
    pub priorities: Vec<Priority>,
}

impl Default for PickerConfig {
    fn default() -> Self {
        PickerConfig {
            block_size: BLOCK_SIZE,
            random_first_pieces: 4,
            sequential: false,
            endgame_max_requesters: 2,
            endgame_blocks: 32,
            endgame_per_pick: 4,
            priorities: Vec::new(),
        }
    }
}

/// One block to request: `len` bytes at `offset` inside `piece`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset inside the piece.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// What [`Picker::block_received`] made of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A block we still needed: write it. `cancel` lists the other peers that had it in flight
    /// (endgame), who should be sent a cancel; `piece_complete` says the piece now has every
    /// block and should be verified.
    New {
        /// Other peers to send a cancel to.
        cancel: Vec<ConnId>,
        /// Every block of the piece is now received.
        piece_complete: bool,
    },
    /// We already have this block (or the piece): discard it.
    Duplicate,
    /// Not a block of this torrent (bad index, offset or length): the peer misbehaves.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PieceState {
    Missing,
    Partial,
    Verifying,
    Have,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Free,
    Requested(Vec<ConnId>),
    Received(ConnId),
}

#[derive(Debug)]
struct Partial {
    blocks: Vec<Block>,
    free: u32,
    received: u32,
}

#[derive(Debug, Default)]
struct PeerEntry {
    /// `None` for a peer that has every piece (a seed, or have-all).
    have: Option<Bitfield>,
    in_flight: Vec<BlockRequest>,
    /// Pieces this peer rejected requests for (BEP 6): not asked of it again until
    /// [`Picker::forget_refusals`].
    refused: Option<Bitfield>,
    /// Pieces this peer suggested (BEP 6), most recent last; tried before any other new piece.
    suggested: Vec<u32>,
    /// Pieces this peer lets us request while it chokes us (BEP 6 allowed fast).
    allowed_fast: Vec<u32>,
}

impl PeerEntry {
    fn has(&self, piece: u32) -> bool {
        self.have.as_ref().is_none_or(|b| b.contains(piece))
            && !self.refused.as_ref().is_some_and(|r| r.contains(piece))
    }
}

/// Chooses blocks to request and tracks what is in flight, per torrent.
///
/// Feed it what peers have ([`peer_bitfield`](Self::peer_bitfield), [`peer_have`](Self::peer_have),
/// [`peer_have_all`](Self::peer_have_all), [`remove_peer`](Self::remove_peer)), ask it for
/// requests ([`pick`](Self::pick)), and report what came back
/// ([`block_received`](Self::block_received), [`request_failed`](Self::request_failed),
/// [`piece_verified`](Self::piece_verified), [`piece_failed`](Self::piece_failed)).
/// Randomness comes from the seed, so a run replays exactly.
#[derive(Debug)]
pub struct Picker {
    config: PickerConfig,
    total_length: u64,
    piece_length: u32,
    have: Bitfield,
    state: Vec<PieceState>,
    availability: Vec<u32>,
    seeds: u32,
    unstarted: u32,
    partials: BTreeMap<u32, Partial>,
    peers: HashMap<ConnId, PeerEntry>,
    rng: Rng,
    /// Each piece's priority; empty: all normal.
    priority: Vec<Priority>,
    /// The readers' windows, by reader id (`streaming`): fetched before anything else.
    windows: BTreeMap<u64, Window>,
}

impl Picker {
    /// A picker for the pieces of `layout`, nothing downloaded yet.
    pub fn new(layout: &Layout, config: PickerConfig, seed: u64) -> Self {
        Picker::with_sizes(layout.total_length(), layout.piece_length(), config, seed)
    }

    /// A picker for a torrent of `total_length` bytes in pieces of `piece_length`.
    pub fn with_sizes(
        total_length: u64,
        piece_length: u32,
        mut config: PickerConfig,
        seed: u64,
    ) -> Self {
        let piece_length = piece_length.max(1);
        config.block_size = config.block_size.max(1);
        let pieces =
            u32::try_from(total_length.div_ceil(u64::from(piece_length))).unwrap_or(u32::MAX);
        let mut priority = std::mem::take(&mut config.priorities);
        if !priority.is_empty() {
            priority.resize(pieces as usize, Priority::NORMAL);
        }
        Picker {
            priority,
            windows: BTreeMap::new(),
            config,
            total_length,
            piece_length,
            have: Bitfield::new(pieces),
            state: vec![PieceState::Missing; pieces as usize],
            availability: vec![0; pieces as usize],
            seeds: 0,
            unstarted: pieces,
            partials: BTreeMap::new(),
            peers: HashMap::new(),
            rng: Rng::new(seed),
        }
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.have.len()
    }

    /// The pieces we have (verified).
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Whether every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.have.is_full()
    }

    /// Bytes still missing (not verified).
    pub fn bytes_left(&self) -> u64 {
        let have: u64 = self
            .have
            .iter()
            .map(|p| u64::from(self.piece_size(p)))
            .sum();
        self.total_length - have
    }

    /// Marks a piece as already verified (from a resume file or a re-check).
    pub fn mark_have(&mut self, piece: u32) {
        if piece < self.piece_count() {
            self.set_state(piece, PieceState::Have);
            let _ = self.have.insert(piece);
        }
    }

    /// Whether the picker is in endgame mode: every missing block that any peer has is already
    /// requested, so remaining blocks may be requested from several peers at once.
    pub fn in_endgame(&self) -> bool {
        !self.is_complete()
            && self.unstarted_available() == 0
            && self.partials.values().all(|p| p.free == 0)
    }

    fn unstarted_available(&self) -> u32 {
        if self.seeds > 0 && !self.is_filtered() {
            return self.unstarted;
        }
        (0..self.piece_count())
            .filter(|&p| {
                self.state[p as usize] == PieceState::Missing
                    && (self.seeds > 0 || self.availability[p as usize] > 0)
                    && self.is_wanted(p)
            })
            .count() as u32
    }

    /// Whether some piece has a priority other than normal or a reader has a window.
    fn is_filtered(&self) -> bool {
        !self.priority.is_empty() || !self.windows.is_empty()
    }

    /// The priority of `piece` (file selection), readers' windows aside.
    pub fn priority(&self, piece: u32) -> Priority {
        self.priority
            .get(piece as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Sets every piece's priority (`priorities[i]` for piece `i`; missing ones are normal).
    /// Pieces already requested stay requested; no new piece of priority 0 is started.
    pub fn set_priorities(&mut self, mut priorities: Vec<Priority>) {
        priorities.resize(self.piece_count() as usize, Priority::NORMAL);
        self.priority = priorities;
    }

    /// Sets (or with `None` removes) the window of reader `reader`: its first piece is requested
    /// before any other, then the rest in order, before partial and new pieces of the rest of
    /// the torrent. Each reader has its own window; the picker serves them all.
    pub fn set_window(&mut self, reader: u64, pieces: Option<Range<u32>>) {
        match pieces {
            Some(r) => {
                let r = r.start.min(self.piece_count())..r.end.min(self.piece_count());
                self.windows.insert(reader, Window { pieces: r });
            }
            None => {
                self.windows.remove(&reader);
            }
        }
    }

    /// The readers' windows, by reader id.
    pub fn windows(&self) -> impl Iterator<Item = (u64, &Window)> + '_ {
        self.windows.iter().map(|(&id, w)| (id, w))
    }

    /// Whether `piece` is to be downloaded: its priority is not 0, or a reader's window holds it.
    pub fn is_wanted(&self, piece: u32) -> bool {
        self.priority(piece).is_wanted() || self.windows.values().any(|w| w.pieces.contains(&piece))
    }

    /// Whether every piece of priority above 0 is verified (the selected files are done; readers'
    /// windows do not count).
    pub fn wanted_complete(&self) -> bool {
        if self.priority.is_empty() {
            return self.is_complete();
        }
        (0..self.piece_count()).all(|p| self.have.contains(p) || !self.priority(p).is_wanted())
    }

    /// Bytes of wanted pieces (priority above 0) not yet verified.
    pub fn wanted_bytes_left(&self) -> u64 {
        (0..self.piece_count())
            .filter(|&p| !self.have.contains(p) && self.priority(p).is_wanted())
            .map(|p| u64::from(self.piece_size(p)))
            .sum()
    }

    /// The windows' pieces in the order they are fetched: every window's first (urgent) piece,
    /// then the next piece of each window in turn.
    fn window_order(&self) -> Vec<u32> {
        let mut out = Vec::new();
        let longest = self
            .windows
            .values()
            .map(|w| w.pieces.len())
            .max()
            .unwrap_or(0);
        for k in 0..longest as u32 {
            for w in self.windows.values() {
                let p = w.pieces.start.saturating_add(k);
                if p < w.pieces.end && self.state[p as usize] != PieceState::Have {
                    out.push(p);
                }
            }
        }
        out
    }

    /// How many connected peers have `piece`.
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability
            .get(piece as usize)
            .map_or(0, |a| a + self.seeds)
    }

    /// Registers a peer that has nothing yet.
    pub fn add_peer(&mut self, id: ConnId) {
        self.remove_peer(id);
        self.peers.insert(
            id,
            PeerEntry {
                have: Some(Bitfield::new(self.piece_count())),
                in_flight: Vec::new(),
                refused: None,
                suggested: Vec::new(),
                allowed_fast: Vec::new(),
            },
        );
    }

    /// Sets what a peer has from its bitfield message (replacing what it had). A bitfield of the
    /// wrong length is ignored and `false` returned.
    pub fn peer_bitfield(&mut self, id: ConnId, bitfield: &Bitfield) -> bool {
        if bitfield.len() != self.piece_count() {
            return false;
        }
        self.forget_availability(id);
        for p in bitfield.iter() {
            self.availability[p as usize] += 1;
        }
        self.peers.entry(id).or_default().have = Some(bitfield.clone());
        true
    }

    /// Whether the peer on `id` has announced `piece`.
    pub fn peer_has(&self, id: ConnId, piece: u32) -> bool {
        self.peers
            .get(&id)
            .is_some_and(|e| e.have.as_ref().is_none_or(|b| b.contains(piece)))
    }

    /// Records a have message; `false` if the index is out of range.
    pub fn peer_have(&mut self, id: ConnId, piece: u32) -> bool {
        if piece >= self.piece_count() {
            return false;
        }
        let n = self.piece_count();
        let entry = self.peers.entry(id).or_insert_with(|| PeerEntry {
            have: Some(Bitfield::new(n)),
            in_flight: Vec::new(),
            refused: None,
            suggested: Vec::new(),
            allowed_fast: Vec::new(),
        });
        if let Some(b) = &mut entry.have {
            if b.insert(piece).unwrap_or(false) {
                self.availability[piece as usize] += 1;
            }
        }
        true
    }

    /// Records a have-all message (BEP 6), or a bitfield that turned out full.
    pub fn peer_have_all(&mut self, id: ConnId) {
        self.forget_availability(id);
        self.peers.entry(id).or_default().have = None;
        self.seeds += 1;
    }

    /// Records a have-none message (BEP 6).
    pub fn peer_have_none(&mut self, id: ConnId) {
        self.peer_bitfield(id, &Bitfield::new(self.piece_count()));
    }

    /// Forgets a peer: its pieces no longer count, its in-flight requests become free again.
    pub fn remove_peer(&mut self, id: ConnId) {
        self.release_requests(id);
        self.forget_availability(id);
        self.peers.remove(&id);
    }

    fn forget_availability(&mut self, id: ConnId) {
        let n = self.piece_count();
        let Some(entry) = self.peers.get_mut(&id) else {
            return;
        };
        let old = entry.have.replace(Bitfield::new(n));
        match old {
            None => self.seeds -= 1,
            Some(b) => {
                for p in b.iter() {
                    self.availability[p as usize] -= 1;
                }
            }
        }
    }

    /// How many pieces a peer has (all of them for a seed; 0 for an unknown peer).
    pub fn peer_piece_count(&self, id: ConnId) -> u32 {
        match self.peers.get(&id).map(|e| &e.have) {
            Some(None) => self.piece_count(),
            Some(Some(b)) => b.count(),
            None => 0,
        }
    }

    /// Whether the peer has a piece we do not.
    pub fn is_interesting(&self, id: ConnId) -> bool {
        let Some(entry) = self.peers.get(&id) else {
            return false;
        };
        match &entry.have {
            None if self.is_filtered() => {
                (0..self.piece_count()).any(|p| !self.have.contains(p) && self.is_wanted(p))
            }
            None => !self.is_complete(),
            Some(b) if self.is_filtered() => b
                .iter()
                .any(|p| !self.have.contains(p) && self.is_wanted(p)),
            Some(b) => b.iter().any(|p| !self.have.contains(p)),
        }
    }

    /// The blocks in flight to `id`.
    pub fn in_flight(&self, id: ConnId) -> &[BlockRequest] {
        self.peers.get(&id).map_or(&[], |e| &e.in_flight)
    }

    /// Picks up to `max` blocks to request from `id` and marks them in flight to it.
    ///
    /// Blocks of partial pieces come first (most complete first), then new pieces: at random
    /// until [`PickerConfig::random_first_pieces`] are complete, then rarest first with random
    /// tie-breaks (or in order when sequential). In endgame mode, blocks already in flight to
    /// other peers are picked too.
    pub fn pick(&mut self, id: ConnId, max: usize) -> Vec<BlockRequest> {
        self.pick_once(id, max)
    }

    /// Forgets every refusal ([`request_rejected`](Self::request_rejected)): the pieces may be
    /// asked for again. The torrent calls it each choking round (10 s), so a refusal holds a
    /// while without the picker asking in a loop.
    pub fn forget_refusals(&mut self) {
        for e in self.peers.values_mut() {
            e.refused = None;
        }
    }

    /// The peer on `id` rejected the request for a block (BEP 6): the block is free again
    /// (unless in flight elsewhere) and the piece is not asked of this peer again for now.
    pub fn request_rejected(&mut self, id: ConnId, piece: u32, offset: u32) {
        self.request_failed(id, piece, offset);
        let n = self.piece_count();
        if let Some(e) = self.peers.get_mut(&id) {
            let _ = e
                .refused
                .get_or_insert_with(|| Bitfield::new(n))
                .insert(piece);
        }
    }

    /// The peer on `id` suggests `piece` (BEP 6): it is tried first among new pieces from that
    /// peer (a seed suggests what it has not given out yet). At most 8 are remembered.
    pub fn suggest(&mut self, id: ConnId, piece: u32) {
        if piece >= self.piece_count() {
            return;
        }
        if let Some(e) = self.peers.get_mut(&id) {
            e.suggested.retain(|&p| p != piece);
            if e.suggested.len() >= 8 {
                e.suggested.remove(0);
            }
            e.suggested.push(piece);
        }
    }

    /// The peer on `id` lets us request `piece` while it chokes us (BEP 6 allowed fast). At
    /// most 32 are remembered.
    pub fn allow_fast(&mut self, id: ConnId, piece: u32) {
        if piece >= self.piece_count() {
            return;
        }
        if let Some(e) = self.peers.get_mut(&id) {
            if !e.allowed_fast.contains(&piece) && e.allowed_fast.len() < 32 {
                e.allowed_fast.push(piece);
            }
        }
    }

    /// Whether `id` allowed us pieces we still lack (worth requesting while choked).
    pub fn has_allowed_fast(&self, id: ConnId) -> bool {
        self.peers.get(&id).is_some_and(|e| {
            e.allowed_fast
                .iter()
                .any(|&p| self.state[p as usize] != PieceState::Have && e.has(p))
        })
    }

    /// Picks up to `max` blocks of the pieces `id` allowed us while it chokes us (BEP 6), as
    /// [`pick`](Self::pick) does for an unchoked peer.
    pub fn pick_allowed_fast(&mut self, id: ConnId, max: usize) -> Vec<BlockRequest> {
        let mut out = Vec::new();
        let pieces = self
            .peers
            .get(&id)
            .map(|e| e.allowed_fast.clone())
            .unwrap_or_default();
        for piece in pieces {
            if out.len() >= max || !self.peers[&id].has(piece) || !self.is_wanted(piece) {
                continue;
            }
            match self.state[piece as usize] {
                PieceState::Missing => self.start_piece(piece),
                PieceState::Partial => {}
                PieceState::Verifying | PieceState::Have => continue,
            }
            self.take_free(id, piece, max, &mut out);
        }
        out
    }

    /// Marks a missing piece started, all its blocks free.
    fn start_piece(&mut self, piece: u32) {
        self.set_state(piece, PieceState::Partial);
        let blocks = self.block_count(piece);
        self.partials.insert(
            piece,
            Partial {
                blocks: vec![Block::Free; blocks as usize],
                free: blocks,
                received: 0,
            },
        );
    }

    /// The newest piece `id` suggested that we can start now.
    fn take_suggested(&mut self, id: ConnId) -> Option<u32> {
        let e = self.peers.get_mut(&id)?;
        while let Some(p) = e.suggested.pop() {
            if self.state[p as usize] == PieceState::Missing && e.has(p) {
                return Some(p);
            }
        }
        None
    }

    fn pick_once(&mut self, id: ConnId, max: usize) -> Vec<BlockRequest> {
        let mut out = Vec::new();
        if max == 0 || !self.peers.contains_key(&id) {
            return out;
        }
        // From a seed, only pieces no other peer of ours has, unless no other peer is serving
        // us: the seed's upload goes to pieces the swarm lacks and we trade for the rest.
        let spare_seed = self.spares_seed(id);
        // 0. The readers' windows: the pieces a read waits for, then their readahead, in order.
        for piece in self.window_order() {
            if !self.peers[&id].has(piece) {
                continue;
            }
            match self.state[piece as usize] {
                PieceState::Missing => self.start_piece(piece),
                PieceState::Partial => {}
                PieceState::Verifying | PieceState::Have => continue,
            }
            self.take_free(id, piece, max, &mut out);
            if out.len() >= max {
                return out;
            }
        }
        // 1. Finish partial pieces first, the most complete ones first.
        let mut partial: Vec<(u32, u32)> = self
            .partials
            .iter()
            .filter(|(&p, part)| {
                part.free > 0
                    && self.peers[&id].has(p)
                    && !(spare_seed && self.availability[p as usize] > 0)
            })
            .map(|(&p, part)| (p, part.received))
            .collect();
        if self.config.sequential {
            partial.sort_by_key(|&(p, _)| p);
        } else {
            partial.sort_by_key(|&(p, received)| {
                (
                    std::cmp::Reverse(received),
                    self.availability[p as usize],
                    p,
                )
            });
        }
        for (piece, _) in partial {
            self.take_free(id, piece, max, &mut out);
            if out.len() >= max {
                return out;
            }
        }
        // 2. Start new pieces.
        while out.len() < max {
            let next = match self.take_suggested(id) {
                Some(p) => Some(p),
                None => self.choose_new(id, spare_seed),
            };
            let Some(piece) = next else {
                break;
            };
            self.start_piece(piece);
            self.take_free(id, piece, max, &mut out);
        }
        // 3. Endgame: duplicate requests for blocks in flight elsewhere, only for the last few
        // blocks and a few per call.
        // Not from a seed we spare: its duplicates would be its upload wasted.
        if out.len() < max
            && !spare_seed
            && self.in_endgame()
            && self.unreceived_blocks() <= self.config.endgame_blocks
        {
            let limit = self.config.endgame_max_requesters;
            let max = max.min(out.len() + self.config.endgame_per_pick);
            let pieces: Vec<u32> = self
                .partials
                .keys()
                .copied()
                .filter(|&p| self.peers[&id].has(p))
                .collect();
            'outer: for piece in pieces {
                let blocks = self.block_count(piece);
                for b in 0..blocks {
                    let req = self.block_request(piece, b);
                    let Some(part) = self.partials.get_mut(&piece) else {
                        continue 'outer;
                    };
                    if let Block::Requested(peers) = &mut part.blocks[b as usize] {
                        if !peers.contains(&id) && peers.len() < limit {
                            peers.push(id);
                            out.push(req);
                            if let Some(e) = self.peers.get_mut(&id) {
                                e.in_flight.push(req);
                            }
                            if out.len() >= max {
                                break 'outer;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Picks one whole new piece for `id` (a web seed, which fetches a piece in one range) and
    /// marks every block of it in flight to `id`; partial pieces stay with the peers working
    /// on them. Rarest first, so pieces that no peer has come first. Empty when no piece is free.
    pub fn pick_whole_piece(&mut self, id: ConnId) -> Vec<BlockRequest> {
        let mut out = Vec::new();
        if !self.peers.contains_key(&id) {
            return out;
        }
        if let Some(piece) = self.choose_new(id, false) {
            self.start_piece(piece);
            self.take_free(id, piece, usize::MAX, &mut out);
        }
        out
    }

    /// Whether `id` is a seed (it has every piece) while some other peer that is not one has
    /// requests of ours in flight: then the seed is asked only for what no other peer has.
    fn spares_seed(&self, id: ConnId) -> bool {
        self.peers.get(&id).is_some_and(|e| e.have.is_none())
            && self
                .peers
                .iter()
                .any(|(&o, e)| o != id && e.have.is_some() && !e.in_flight.is_empty())
    }

    /// Blocks of started pieces not yet received (requested or free).
    fn unreceived_blocks(&self) -> usize {
        self.partials
            .values()
            .map(|p| p.blocks.len() - p.received as usize)
            .sum()
    }

    fn choose_new(&mut self, id: ConnId, spare_seed: bool) -> Option<u32> {
        let peer = &self.peers[&id];
        let prio = &self.priority;
        let priority = |p: u32| prio.get(p as usize).copied().unwrap_or_default();
        let eligible = |p: u32| {
            self.state[p as usize] == PieceState::Missing
                && peer.has(p)
                && priority(p).is_wanted()
                && !(spare_seed && self.availability[p as usize] > 0)
        };
        if self.config.sequential {
            return (0..self.piece_count()).find(|&p| eligible(p));
        }
        let random = self.have.count() < self.config.random_first_pieces;
        // One pass with reservoir sampling: uniform among the eligible (random-first) or among
        // those of minimal availability (rarest first).
        // Higher priorities first: the key is (inverted priority, availability).
        let mut best: Option<(u32, (u8, u32))> = None; // (piece, key)
        let mut ties = 0u64;
        for p in 0..self.piece_count() {
            if !eligible(p) {
                continue;
            }
            let avail = (
                u8::MAX - priority(p).0,
                if random {
                    0
                } else {
                    self.availability[p as usize]
                },
            );
            match best {
                Some((_, a)) if avail > a => continue,
                Some((_, a)) if avail == a => {
                    ties += 1;
                    if self.rng.below(ties) == 0 {
                        best = Some((p, avail));
                    }
                }
                _ => {
                    best = Some((p, avail));
                    ties = 1;
                }
            }
        }
        best.map(|(p, _)| p)
    }

    fn take_free(&mut self, id: ConnId, piece: u32, max: usize, out: &mut Vec<BlockRequest>) {
        let blocks = self.block_count(piece);
        for b in 0..blocks {
            if out.len() >= max {
                return;
            }
            let req = self.block_request(piece, b);
            let Some(part) = self.partials.get_mut(&piece) else {
                return;
            };
            if part.blocks[b as usize] == Block::Free {
                part.blocks[b as usize] = Block::Requested(vec![id]);
                part.free -= 1;
                out.push(req);
                if let Some(e) = self.peers.get_mut(&id) {
                    e.in_flight.push(req);
                }
            }
        }
    }

    /// Records a block that arrived from `id` (requested or not), returning what to do with it.
    pub fn block_received(&mut self, id: ConnId, piece: u32, offset: u32, len: u32) -> Received {
        let Some(b) = self.block_index(piece, offset, len) else {
            return Received::Invalid;
        };
        if let Some(e) = self.peers.get_mut(&id) {
            e.in_flight
                .retain(|r| !(r.piece == piece && r.offset == offset));
        }
        // A piece we have, are verifying, or never started (a late block after a failed
        // check): nothing to write.
        let Some(part) = self.partials.get_mut(&piece) else {
            return Received::Duplicate;
        };
        let mut cancel = Vec::new();
        match std::mem::replace(&mut part.blocks[b], Block::Received(id)) {
            Block::Received(first) => {
                part.blocks[b] = Block::Received(first);
                return Received::Duplicate;
            }
            Block::Free => part.free -= 1,
            Block::Requested(peers) => cancel = peers.into_iter().filter(|&p| p != id).collect(),
        }
        part.received += 1;
        let piece_complete = part.received as usize == part.blocks.len();
        for other in &cancel {
            if let Some(e) = self.peers.get_mut(other) {
                e.in_flight
                    .retain(|r| !(r.piece == piece && r.offset == offset));
            }
        }
        if piece_complete {
            self.set_state(piece, PieceState::Verifying);
        }
        Received::New {
            cancel,
            piece_complete,
        }
    }

    /// A request to `id` will not be answered (rejected, timed out, choked, cancelled): the
    /// block becomes free unless another peer has it in flight.
    pub fn request_failed(&mut self, id: ConnId, piece: u32, offset: u32) {
        if let Some(e) = self.peers.get_mut(&id) {
            e.in_flight
                .retain(|r| !(r.piece == piece && r.offset == offset));
        }
        let Some(part) = self.partials.get_mut(&piece) else {
            return;
        };
        let Some(b) = offset
            .checked_div(self.config.block_size)
            .map(|b| b as usize)
        else {
            return;
        };
        if let Some(Block::Requested(peers)) = part.blocks.get_mut(b) {
            peers.retain(|&p| p != id);
            if peers.is_empty() {
                part.blocks[b] = Block::Free;
                part.free += 1;
            }
        }
    }

    /// Releases every request in flight to `id` (it choked us without the fast extension, or
    /// is being dropped), returning them.
    pub fn release_requests(&mut self, id: ConnId) -> Vec<BlockRequest> {
        let reqs = self
            .peers
            .get_mut(&id)
            .map(|e| std::mem::take(&mut e.in_flight))
            .unwrap_or_default();
        for r in &reqs {
            self.request_failed(id, r.piece, r.offset);
        }
        reqs
    }

    /// A completed piece passed its hash check.
    pub fn piece_verified(&mut self, piece: u32) {
        if piece < self.piece_count() {
            self.partials.remove(&piece);
            self.mark_have(piece);
        }
    }

    /// Who sent each block of a piece waiting for its hash check (`None` for a piece not
    /// waiting, or a block not received): the bad-block hunt's record of the failed attempt.
    pub fn block_senders(&self, piece: u32) -> Option<Vec<ConnId>> {
        if self.state.get(piece as usize) != Some(&PieceState::Verifying) {
            return None;
        }
        self.partials
            .get(&piece)?
            .blocks
            .iter()
            .map(|b| match b {
                Block::Received(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// A piece that failed its hash check (and was left waiting while its bad blocks were
    /// found) gets only `bad` (block indices) downloaded again; the other blocks stay.
    /// False (nothing changed) for a piece not waiting or no valid block index.
    pub fn reopen_blocks(&mut self, piece: u32, bad: &[u32]) -> bool {
        if self.state.get(piece as usize) != Some(&PieceState::Verifying) {
            return false;
        }
        let Some(part) = self.partials.get_mut(&piece) else {
            return false;
        };
        let mut reopened = 0;
        for &b in bad {
            if let Some(slot @ Block::Received(_)) = part.blocks.get_mut(b as usize) {
                *slot = Block::Free;
                part.free += 1;
                part.received -= 1;
                reopened += 1;
            }
        }
        if reopened == 0 {
            return false;
        }
        self.set_state(piece, PieceState::Partial);
        true
    }

    /// A completed piece failed its hash check: it will be downloaded again. Returns the peers
    /// that sent its blocks (each once), so the caller can count strikes and ban repeat offenders.
    pub fn piece_failed(&mut self, piece: u32) -> Vec<ConnId> {
        let Some(part) = self.partials.remove(&piece) else {
            return Vec::new();
        };
        let mut senders: Vec<ConnId> = part
            .blocks
            .iter()
            .filter_map(|b| {
                if let Block::Received(p) = b {
                    Some(*p)
                } else {
                    None
                }
            })
            .collect();
        senders.sort_unstable();
        senders.dedup();
        self.set_state(piece, PieceState::Missing);
        senders
    }

    fn set_state(&mut self, piece: u32, new: PieceState) {
        let old = std::mem::replace(&mut self.state[piece as usize], new);
        if old == PieceState::Missing && new != PieceState::Missing {
            self.unstarted -= 1;
        } else if old != PieceState::Missing && new == PieceState::Missing {
            self.unstarted += 1;
        }
        if old == PieceState::Have && new != PieceState::Have {
            let _ = self.have.remove(piece);
        }
        if new != PieceState::Partial && old == PieceState::Partial && new != PieceState::Verifying
        {
            self.partials.remove(&piece);
        }
    }

    fn piece_size(&self, piece: u32) -> u32 {
        piece_size(self.total_length, self.piece_length, piece)
    }

    fn block_count(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(self.config.block_size)
    }

    fn block_request(&self, piece: u32, block: u32) -> BlockRequest {
        let offset = block * self.config.block_size;
        BlockRequest {
            piece,
            offset,
            len: (self.piece_size(piece) - offset).min(self.config.block_size),
        }
    }

    fn block_index(&self, piece: u32, offset: u32, len: u32) -> Option<usize> {
        if piece >= self.piece_count() || offset % self.config.block_size != 0 {
            return None;
        }
        let b = offset / self.config.block_size;
        (b < self.block_count(piece) && self.block_request(piece, b).len == len)
            .then_some(b as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: u32 = BLOCK_SIZE;

    fn cfg(random_first: u32) -> PickerConfig {
        PickerConfig {
            random_first_pieces: random_first,
            ..PickerConfig::default()
        }
    }

    fn bits(n: u32, ones: &[u32]) -> Bitfield {
        let mut b = Bitfield::new(n);
        for &p in ones {
            b.insert(p).unwrap();
        }
        b
    }

    /// Receives every block of `reqs` from `id`, verifying completed pieces.
    fn deliver(p: &mut Picker, id: ConnId, reqs: &[BlockRequest]) {
        for r in reqs {
            if let Received::New {
                piece_complete: true,
                ..
            } = p.block_received(id, r.piece, r.offset, r.len)
            {
                p.piece_verified(r.piece);
            }
        }
    }

    #[test]
    fn blocks_cover_pieces_exactly_including_a_short_last_piece() {
        let mut p = Picker::with_sizes(2 * u64::from(B) * 2 + 100, 2 * B, cfg(0), 1);
        let a = ConnId(1);
        p.add_peer(a);
        p.peer_have_all(a);
        let mut reqs = p.pick(a, 100);
        reqs.sort();
        assert_eq!(
            reqs,
            vec![
                BlockRequest {
                    piece: 0,
                    offset: 0,
                    len: B
                },
                BlockRequest {
                    piece: 0,
                    offset: B,
                    len: B
                },
                BlockRequest {
                    piece: 1,
                    offset: 0,
                    len: B
                },
                BlockRequest {
                    piece: 1,
                    offset: B,
                    len: B
                },
                BlockRequest {
                    piece: 2,
                    offset: 0,
                    len: 100
                },
            ]
        );
        assert_eq!(p.in_flight(a).len(), 5);
        assert!(
            p.pick(a, 10).is_empty(),
            "nothing left, and no endgame duplicates to ourselves"
        );
        deliver(&mut p, a, &reqs);
        assert!(p.is_complete());
        assert_eq!(p.bytes_left(), 0);
        assert!(p.in_flight(a).is_empty());
    }

    #[test]
    fn rarest_first_after_the_random_start() {
        let n = 6;
        let mut p = Picker::with_sizes(u64::from(n * B), B, cfg(0), 7);
        // Availability: piece 4 is held by one peer, the others by two or three.
        let peers = [
            bits(n, &[0, 1, 2, 3, 5]),
            bits(n, &[0, 1, 2, 3, 5]),
            bits(n, &[0, 1, 2, 3, 4, 5]),
        ];
        for (i, b) in peers.iter().enumerate() {
            p.add_peer(ConnId(i as u64));
            p.peer_bitfield(ConnId(i as u64), b);
        }
        assert_eq!(p.availability(4), 1);
        assert_eq!(p.availability(0), 3);
        assert_eq!(
            p.pick(ConnId(2), 1),
            vec![BlockRequest {
                piece: 4,
                offset: 0,
                len: B
            }]
        );
        // Peer 0 lacks piece 4: it gets one of the equally rare others.
        let r = p.pick(ConnId(0), 1);
        assert_eq!(r.len(), 1);
        assert_ne!(r[0].piece, 4);
    }

    #[test]
    fn ties_are_broken_at_random_and_the_seed_replays() {
        let first = |seed| {
            let mut p = Picker::with_sizes(u64::from(32 * B), B, cfg(0), seed);
            p.add_peer(ConnId(0));
            p.peer_have_all(ConnId(0));
            p.pick(ConnId(0), 1)[0].piece
        };
        let picks: std::collections::BTreeSet<u32> = (0..40).map(first).collect();
        assert!(
            picks.len() > 10,
            "tie-breaks should spread over pieces: {picks:?}"
        );
        assert_eq!(first(99), first(99));
    }

    #[test]
    fn random_first_pieces_ignore_rarity_then_rarest_takes_over() {
        let n = 16;
        let mut counts = [0u32; 16];
        for seed in 0..64 {
            let mut p = Picker::with_sizes(u64::from(n * B), B, cfg(2), seed);
            p.add_peer(ConnId(0));
            p.peer_have_all(ConnId(0));
            p.add_peer(ConnId(1));
            p.peer_bitfield(ConnId(1), &bits(n, &(1..n).collect::<Vec<_>>()));
            // Piece 0 is the rarest, yet random-first picks anything.
            let r = p.pick(ConnId(0), 1);
            counts[r[0].piece as usize] += 1;
            deliver(&mut p, ConnId(0), &r);
            let r = p.pick(ConnId(0), 1);
            deliver(&mut p, ConnId(0), &r);
            assert_eq!(p.have().count(), 2);
            // Two pieces complete: now rarest first, so piece 0 unless already had.
            let r = p.pick(ConnId(0), 1);
            if !p.have().contains(0) {
                assert_eq!(r[0].piece, 0, "seed {seed}");
            }
        }
        assert!(counts.iter().filter(|&&c| c > 0).count() > 8, "{counts:?}");
    }

    #[test]
    fn partial_pieces_are_finished_first() {
        let mut p = Picker::with_sizes(u64::from(8 * 4 * B), 4 * B, cfg(0), 3);
        for i in 0..2 {
            p.add_peer(ConnId(i));
            p.peer_have_all(ConnId(i));
        }
        let a = p.pick(ConnId(0), 2);
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|r| r.piece == a[0].piece));
        // Peer 1 gets the two remaining blocks of that piece before anything new.
        let b = p.pick(ConnId(1), 3);
        assert_eq!(b[0].piece, a[0].piece);
        assert_eq!(b[1].piece, a[0].piece);
        assert_ne!(b[2].piece, a[0].piece);
        assert_eq!(b[0].offset, 2 * B);
    }

    #[test]
    fn endgame_duplicates_only_the_last_blocks_a_few_per_pick() {
        // 64 blocks, all requested from `a`: more than `endgame_blocks` unreceived, so no
        // duplicates; once only 32 are left, `b` gets at most `endgame_per_pick` per call.
        let mut p = Picker::with_sizes(u64::from(64 * B), 16 * B, cfg(0), 3);
        let (a, b) = (ConnId(1), ConnId(2));
        for id in [a, b] {
            p.add_peer(id);
            p.peer_have_all(id);
        }
        let ra = p.pick(a, 64);
        assert_eq!(ra.len(), 64);
        assert!(p.in_endgame());
        assert!(p.pick(b, 10).is_empty(), "too early for duplicates");
        deliver(&mut p, a, &ra[..32]);
        let rb = p.pick(b, 10);
        assert_eq!(rb.len(), 4, "a few at a time");
        assert!(rb.iter().all(|r| ra[32..].contains(r)));
    }

    #[test]
    fn a_seed_is_asked_only_for_pieces_no_serving_peer_has_and_suggestions_come_first() {
        let n = 8;
        let mut p = Picker::with_sizes(u64::from(n * B), B, cfg(0), 9);
        let (seed, peer) = (ConnId(1), ConnId(2));
        p.add_peer(seed);
        p.peer_have_all(seed);
        p.add_peer(peer);
        p.peer_bitfield(peer, &bits(n, &[0, 1, 2, 3]));
        let from_peer = p.pick(peer, 1);
        assert_eq!(from_peer.len(), 1);
        // The peer serves us: the seed is asked only for pieces 4..8.
        let from_seed = p.pick(seed, 2);
        assert_eq!(from_seed.len(), 2);
        assert!(from_seed.iter().all(|r| r.piece >= 4), "{from_seed:?}");
        // A refused piece is not asked again while the peer serves us; a suggested one first.
        let refused = from_seed[0];
        p.request_rejected(seed, refused.piece, refused.offset);
        let other = (4..n)
            .find(|&q| q != refused.piece && from_seed.iter().all(|r| r.piece != q))
            .unwrap();
        p.suggest(seed, other);
        let next = p.pick(seed, 1);
        assert_eq!(next[0].piece, other);
        let rest = p.pick(seed, 10);
        assert!(rest
            .iter()
            .all(|r| r.piece != refused.piece && r.piece >= 4));
    }

    #[test]
    fn sequential_mode_goes_in_order() {
        let mut p = Picker::with_sizes(
            u64::from(6 * B),
            B,
            PickerConfig {
                sequential: true,
                ..cfg(4)
            },
            5,
        );
        p.add_peer(ConnId(0));
        p.peer_bitfield(ConnId(0), &bits(6, &[1, 2, 4, 5]));
        let pieces: Vec<u32> = p.pick(ConnId(0), 10).iter().map(|r| r.piece).collect();
        assert_eq!(pieces, vec![1, 2, 4, 5]);
    }

    #[test]
    fn endgame_duplicates_requests_and_cancels_on_arrival() {
        let three = PickerConfig {
            endgame_max_requesters: 3,
            ..cfg(0)
        };
        let mut p = Picker::with_sizes(u64::from(2 * B), 2 * B, three, 1);
        let (a, b, c) = (ConnId(1), ConnId(2), ConnId(3));
        for id in [a, b, c] {
            p.add_peer(id);
            p.peer_have_all(id);
        }
        assert!(!p.in_endgame());
        let ra = p.pick(a, 10);
        assert_eq!(ra.len(), 2);
        assert!(p.in_endgame());
        let rb = p.pick(b, 10);
        assert_eq!(rb, ra, "endgame asks b for the same blocks");
        let rc = p.pick(c, 1);
        assert_eq!(rc.len(), 1);
        // The first copy to arrive wins; the others are told to cancel.
        match p.block_received(b, 0, 0, B) {
            Received::New {
                mut cancel,
                piece_complete,
            } => {
                cancel.sort();
                assert_eq!(cancel, vec![a, c]);
                assert!(!piece_complete);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.block_received(a, 0, 0, B), Received::Duplicate);
        assert_eq!(
            p.in_flight(a),
            &[BlockRequest {
                piece: 0,
                offset: B,
                len: B
            }]
        );
        assert!(p.in_flight(c).is_empty());
        assert_eq!(
            p.block_received(a, 0, B, B),
            Received::New {
                cancel: vec![b],
                piece_complete: true
            }
        );
        p.piece_verified(0);
        assert!(p.is_complete());
        assert!(!p.in_endgame());
    }

    #[test]
    fn endgame_respects_the_requester_limit() {
        let mut p = Picker::with_sizes(
            u64::from(B),
            B,
            PickerConfig {
                endgame_max_requesters: 2,
                ..cfg(0)
            },
            1,
        );
        for i in 0..4 {
            p.add_peer(ConnId(i));
            p.peer_have_all(ConnId(i));
        }
        let got: Vec<usize> = (0..4).map(|i| p.pick(ConnId(i), 5).len()).collect();
        assert_eq!(got, vec![1, 1, 0, 0]);
    }

    #[test]
    fn not_endgame_while_some_peer_has_an_unstarted_piece() {
        let mut p = Picker::with_sizes(u64::from(2 * B), B, cfg(0), 1);
        p.add_peer(ConnId(0));
        p.peer_bitfield(ConnId(0), &bits(2, &[0]));
        p.add_peer(ConnId(1));
        p.peer_bitfield(ConnId(1), &bits(2, &[1]));
        assert_eq!(p.pick(ConnId(0), 5).len(), 1);
        assert!(!p.in_endgame(), "piece 1 is still free at peer 1");
        assert_eq!(p.pick(ConnId(1), 5).len(), 1);
        assert!(p.in_endgame());
    }

    #[test]
    fn failed_requests_and_departed_peers_free_their_blocks() {
        let mut p = Picker::with_sizes(u64::from(4 * B), 4 * B, cfg(0), 1);
        let (a, b) = (ConnId(1), ConnId(2));
        p.add_peer(a);
        p.peer_have_all(a);
        p.add_peer(b);
        p.peer_bitfield(b, &bits(1, &[0]));
        assert_eq!(p.availability(0), 2);
        let ra = p.pick(a, 4);
        assert_eq!(ra.len(), 4);
        p.request_failed(a, 0, B);
        assert_eq!(
            p.pick(b, 1),
            vec![BlockRequest {
                piece: 0,
                offset: B,
                len: B
            }]
        );
        p.remove_peer(a);
        assert_eq!(p.availability(0), 1);
        let rb = p.pick(b, 10);
        assert_eq!(rb.len(), 3, "a's three blocks came back: {rb:?}");
        assert_eq!(p.release_requests(b).len(), 4);
        assert!(p.in_flight(b).is_empty());
        assert_eq!(p.pick(b, 10).len(), 4);
    }

    #[test]
    fn a_failed_piece_names_its_senders_and_is_fetched_again() {
        let mut p = Picker::with_sizes(u64::from(2 * B), 2 * B, cfg(0), 1);
        let (good, bad) = (ConnId(1), ConnId(2));
        for id in [good, bad] {
            p.add_peer(id);
            p.peer_have_all(id);
        }
        let r1 = p.pick(good, 1);
        let r2 = p.pick(bad, 1);
        assert!(matches!(
            p.block_received(good, r1[0].piece, r1[0].offset, B),
            Received::New { .. }
        ));
        assert_eq!(
            p.block_received(bad, r2[0].piece, r2[0].offset, B),
            Received::New {
                cancel: vec![],
                piece_complete: true
            }
        );
        assert_eq!(p.piece_failed(0), vec![good, bad]);
        assert!(!p.have().contains(0));
        assert_eq!(p.pick(good, 5).len(), 2, "both blocks are requested again");
        // A late copy of a block of the failed piece from before the reset is ignored.
        assert_eq!(p.block_received(bad, 7, 0, B), Received::Invalid);
        assert_eq!(p.block_received(bad, 0, 1, B), Received::Invalid);
        assert_eq!(p.block_received(bad, 0, 0, 5), Received::Invalid);
    }

    #[test]
    fn a_failed_piece_waits_then_reopens_only_its_bad_blocks() {
        let mut p = Picker::with_sizes(u64::from(3 * B), 3 * B, cfg(0), 1);
        let (a, b) = (ConnId(1), ConnId(2));
        for id in [a, b] {
            p.add_peer(id);
            p.peer_have_all(id);
        }
        assert_eq!(p.block_senders(0), None, "not waiting for a check");
        let ra = p.pick(a, 2);
        let rb = p.pick(b, 1);
        for (id, r) in [(a, ra[0]), (a, ra[1]), (b, rb[0])] {
            let _ = p.block_received(id, r.piece, r.offset, B);
        }
        assert_eq!(p.block_senders(0), Some(vec![a, a, b]));
        // While the bad blocks are looked for, nothing of the piece is picked.
        assert!(p.pick(a, 5).is_empty());
        assert!(!p.reopen_blocks(0, &[7]), "no such block");
        assert!(p.reopen_blocks(0, &[1]));
        assert_eq!(p.block_senders(0), None);
        let again = p.pick(b, 5);
        assert_eq!(again, vec![p.block_request(0, 1)], "only the bad block");
        assert_eq!(
            p.block_received(b, 0, B, B),
            Received::New {
                cancel: vec![],
                piece_complete: true
            }
        );
        p.piece_verified(0);
        assert!(p.is_complete());
    }

    #[test]
    fn bitfields_of_the_wrong_size_are_ignored_and_haves_replace_cleanly() {
        let mut p = Picker::with_sizes(u64::from(3 * B), B, cfg(0), 1);
        p.add_peer(ConnId(0));
        assert!(!p.peer_bitfield(ConnId(0), &Bitfield::new(4)));
        assert!(!p.peer_have(ConnId(0), 3));
        assert!(!p.is_interesting(ConnId(0)));
        assert!(p.peer_have(ConnId(0), 1));
        assert!(p.peer_have(ConnId(0), 1));
        assert_eq!(p.availability(1), 1, "a repeated have counts once");
        assert!(p.is_interesting(ConnId(0)));
        p.peer_have_all(ConnId(0));
        assert_eq!(p.availability(1), 1);
        assert_eq!(p.availability(0), 1);
        p.peer_have_none(ConnId(0));
        assert_eq!(p.availability(0), 0);
        p.mark_have(1);
        p.peer_have(ConnId(0), 1);
        assert!(!p.is_interesting(ConnId(0)));
    }

    /// A seeded swarm of partial peers, with losses: the picker completes the torrent and
    /// never hands out a block it already has.
    #[test]
    fn randomised_download_completes() {
        for seed in 0..20 {
            let mut rng = Rng::new(seed);
            let n = 40;
            let mut p =
                Picker::with_sizes(u64::from(n) * u64::from(2 * B) - 77, 2 * B, cfg(4), seed);
            let peers: Vec<ConnId> = (0..5).map(ConnId).collect();
            for &id in &peers {
                p.add_peer(id);
                let mut b = Bitfield::new(n);
                for i in 0..n {
                    if rng.below(2) == 0 {
                        b.insert(i).unwrap();
                    }
                }
                p.peer_bitfield(id, &b);
            }
            p.peer_have_all(ConnId(4));
            let mut rounds = 0;
            while !p.is_complete() {
                rounds += 1;
                assert!(rounds < 1000, "seed {seed}: stuck");
                for &id in &peers {
                    for r in p.pick(id, 1 + rng.index(6)) {
                        assert!(!p.have().contains(r.piece));
                        match rng.below(10) {
                            0 => p.request_failed(id, r.piece, r.offset),
                            1 => {} // stays in flight for a while
                            _ => deliver(&mut p, id, &[r]),
                        }
                    }
                    if rng.below(20) == 0 {
                        for r in p.release_requests(id) {
                            assert!(r.len > 0);
                        }
                    }
                }
            }
            assert_eq!(p.bytes_left(), 0);
        }
    }

    /// The pieces of `reqs`, each once, in order of first appearance.
    fn pieces_of(reqs: &[BlockRequest]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for r in reqs {
            if !out.contains(&r.piece) {
                out.push(r.piece);
            }
        }
        out
    }

    #[test]
    fn a_seek_moves_the_window_and_nothing_between_is_fetched() {
        // 100 pieces of 2 blocks, nothing wanted but what a reader reads (streaming).
        let mut p = Picker::with_sizes(
            100 * 2 * u64::from(B),
            2 * B,
            PickerConfig {
                priorities: vec![Priority::SKIP; 100],
                ..cfg(0)
            },
            3,
        );
        let a = ConnId(1);
        p.add_peer(a);
        p.peer_have_all(a);
        assert!(!p.is_interesting(a), "nothing is wanted before a read");
        assert!(p.pick(a, 100).is_empty());
        p.set_window(7, Some(0..4));
        assert!(p.is_interesting(a));
        let first = p.pick(a, 100);
        assert_eq!(
            pieces_of(&first),
            [0, 1, 2, 3],
            "urgent piece first, then in order"
        );
        deliver(&mut p, a, &first);
        // The seek: the window jumps to 90 %.
        p.set_window(7, Some(90..94));
        let after = p.pick(a, 100);
        assert_eq!(pieces_of(&after), [90, 91, 92, 93]);
        deliver(&mut p, a, &after);
        let have: Vec<u32> = p.have().iter().collect();
        assert_eq!(
            have,
            [0, 1, 2, 3, 90, 91, 92, 93],
            "no piece between the windows"
        );
        // With the rest wanted too, the window still comes first.
        p.set_priorities(vec![Priority::NORMAL; 100]);
        p.set_window(7, Some(50..52));
        let next = p.pick(a, 4);
        assert_eq!(pieces_of(&next), [50, 51]);
    }

    #[test]
    fn readers_keep_their_own_windows_and_a_dropped_one_releases_its_pieces() {
        let mut p = Picker::with_sizes(
            100 * u64::from(B),
            B,
            PickerConfig {
                priorities: vec![Priority::SKIP; 100],
                ..cfg(0)
            },
            3,
        );
        let a = ConnId(1);
        p.add_peer(a);
        p.peer_have_all(a);
        p.set_window(1, Some(10..13));
        p.set_window(2, Some(70..73));
        // Both urgent pieces first, then each readahead in turn.
        assert_eq!(pieces_of(&p.pick(a, 4)), [10, 70, 11, 71]);
        p.set_window(2, None);
        assert!(!p.is_wanted(72));
        assert_eq!(pieces_of(&p.pick(a, 10)), [12]);
    }

    #[test]
    fn only_the_chosen_files_pieces_and_their_boundary_pieces_are_downloaded() {
        // Files: a 3.5 pieces, b 2 pieces, c 4.5 pieces (pieces of one block): b's first and
        // last pieces are shared with a and c.
        let b4 = u64::from(B);
        let layout = Layout::new(
            [(["a"], b4 * 7 / 2), (["b"], b4 * 2), (["c"], b4 * 9 / 2)],
            B,
        )
        .unwrap();
        let prios =
            crate::piece_priorities(&layout, &[Priority::SKIP, Priority::NORMAL, Priority::SKIP]);
        let mut p = Picker::new(
            &layout,
            PickerConfig {
                priorities: prios,
                ..cfg(2)
            },
            11,
        );
        let mut rng = Rng::new(5);
        for i in 0..3 {
            p.add_peer(ConnId(i));
            p.peer_have_all(ConnId(i));
        }
        let mut rounds = 0;
        while !p.wanted_complete() {
            rounds += 1;
            assert!(rounds < 100, "the selection never completes");
            let id = ConnId(rng.below(3));
            let reqs = p.pick(id, 3);
            deliver(&mut p, id, &reqs);
        }
        let have: Vec<u32> = p.have().iter().collect();
        // b covers bytes 3.5..5.5 pieces: pieces 3, 4, 5.
        assert_eq!(have, [3, 4, 5]);
        assert!(!p.is_complete());
        assert_eq!(p.wanted_bytes_left(), 0);
        for i in 0..3 {
            assert!(!p.is_interesting(ConnId(i)), "nothing more is wanted");
            assert!(p.pick(ConnId(i), 10).is_empty());
        }
    }

    #[test]
    fn sequential_completes_pieces_in_order() {
        let mut p = Picker::with_sizes(
            40 * 2 * u64::from(B),
            2 * B,
            PickerConfig {
                sequential: true,
                ..cfg(4)
            },
            9,
        );
        for i in 0..2 {
            p.add_peer(ConnId(i));
            p.peer_have_all(ConnId(i));
        }
        let mut completed = Vec::new();
        let mut turn = 0u64;
        while !p.is_complete() {
            // Peers take turns; each delivers what it was given before the next asks.
            let id = ConnId(turn % 2);
            turn += 1;
            for r in p.pick(id, 2) {
                if let Received::New {
                    piece_complete: true,
                    ..
                } = p.block_received(id, r.piece, r.offset, r.len)
                {
                    p.piece_verified(r.piece);
                    completed.push(r.piece);
                }
            }
        }
        let sorted: Vec<u32> = (0..40).collect();
        assert_eq!(completed, sorted);
    }
}
