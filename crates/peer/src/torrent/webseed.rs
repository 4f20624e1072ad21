//! Web seeds in the swarm: each holds a [`ConnId`] in the picker as a peer that has every
//! piece, is given whole pieces that peers do not have (the picker's rarest first puts pieces
//! only web seeds hold first), and its bytes take the same path as a peer's blocks (written,
//! then verified). A seed whose fetches fail backs off; one whose pieces fail their hash check
//! `MAX_STRIKES` times is dropped with its reason.

use std::time::Instant;

use bytes::Bytes;

use super::Torrent;
use crate::webseed::{WebFetch, WebSeedInfo, WebSeedKind};
use crate::ConnId;

impl Torrent {
    /// Adds a web seed at `url`; its fetches come from [`poll_web_fetch`](Self::poll_web_fetch).
    pub fn add_web_seed(&mut self, url: String, kind: WebSeedKind) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.picker.add_peer(id);
        self.picker.peer_have_all(id);
        self.web.add(id, url, kind);
        id
    }

    /// The next fetch a web seed should make at `now`, if one is idle and a piece is free.
    pub fn poll_web_fetch(&mut self, now: Instant) -> Option<WebFetch> {
        if self.paused || self.picker.is_complete() {
            return None;
        }
        for (seed, url, kind) in self.web.ready(now) {
            let blocks = self.picker.pick_whole_piece(seed);
            let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
                continue;
            };
            self.web.started(seed);
            return Some(WebFetch {
                seed,
                url,
                kind,
                piece: first.piece,
                offset: first.offset,
                len: last.offset + last.len - first.offset,
            });
        }
        self.web.expire(now);
        None
    }

    /// The bytes of a [`WebFetch`] arrived: each requested block in them goes on as a peer's
    /// would (written, and the piece verified once complete).
    pub fn handle_web_data(
        &mut self,
        now: Instant,
        seed: ConnId,
        piece: u32,
        offset: u32,
        data: Bytes,
    ) {
        self.web.succeeded(seed, data.len() as u64);
        let end = u64::from(offset) + data.len() as u64;
        let blocks: Vec<_> = self
            .picker
            .in_flight(seed)
            .iter()
            .filter(|r| {
                r.piece == piece && r.offset >= offset && u64::from(r.offset + r.len) <= end
            })
            .copied()
            .collect();
        for r in blocks {
            let at = (r.offset - offset) as usize;
            let block = data.slice(at..at + r.len as usize);
            self.accept_block(now, seed, piece, r.offset, block);
        }
        // Whatever the reply did not cover goes back to the picker.
        self.release_web(now, seed, piece);
    }

    /// A [`WebFetch`] failed (error status, wrong range, time-out): its blocks go back to the
    /// picker and the seed backs off.
    pub fn handle_web_failed(&mut self, now: Instant, seed: ConnId, piece: u32, why: String) {
        self.web.failed(seed, now, why);
        self.release_web(now, seed, piece);
    }

    /// Every web seed, for display.
    pub fn web_seeds(&self) -> Vec<WebSeedInfo> {
        self.web.infos()
    }

    /// Payload bytes received from web seeds.
    pub fn web_downloaded(&self) -> u64 {
        self.web.downloaded()
    }

    fn release_web(&mut self, now: Instant, seed: ConnId, piece: u32) {
        let left: Vec<_> = self
            .picker
            .in_flight(seed)
            .iter()
            .filter(|r| r.piece == piece)
            .copied()
            .collect();
        for r in left {
            self.picker.request_failed(seed, r.piece, r.offset);
        }
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            self.fill_requests(now, id);
        }
    }

    /// A piece failed its hash check with these senders: web seeds among them get a strike,
    /// and one that reaches the limit leaves the picker.
    pub(super) fn blame_web_seeds(&mut self, piece: u32, senders: &[ConnId]) {
        for &id in senders {
            if self.web.contains(id) && self.web.strike(id, piece) {
                self.picker.remove_peer(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;

    use super::super::{Action, DiskJob, Torrent, TorrentConfig};
    use crate::webseed::WebSeedKind;
    use crate::Bitfield;

    fn torrent() -> Torrent {
        // 4 pieces of 64 KiB.
        let cfg = TorrentConfig::new([1; 20], [2; 20], 1 << 18, 1 << 16, 7);
        Torrent::new(cfg, &Bitfield::new(4))
    }

    #[test]
    fn a_web_seed_gets_whole_pieces_written_then_verified() {
        let now = Instant::now();
        let mut t = torrent();
        let seed = t.add_web_seed("http://h/f".into(), WebSeedKind::Url);
        let mut jobs = Vec::new();
        while let Some(job) = t.poll_web_fetch(now) {
            jobs.push(job);
        }
        // At most MAX_IN_FLIGHT fetches, each a whole 64 KiB piece, all different.
        assert_eq!(jobs.len(), 4);
        assert!(jobs
            .iter()
            .all(|j| j.offset == 0 && j.len == 1 << 16 && j.seed == seed));
        let job = &jobs[0];
        t.handle_web_data(now, seed, job.piece, 0, Bytes::from(vec![0u8; 1 << 16]));
        let actions: Vec<_> = std::iter::from_fn(|| t.poll_action()).collect();
        let writes = actions
            .iter()
            .filter(
                |a| matches!(a, Action::Disk(DiskJob::Write { piece, .. }) if *piece == job.piece),
            )
            .count();
        assert_eq!(writes, 4, "four 16 KiB blocks written: {actions:?}");
        assert!(actions.contains(&Action::Disk(DiskJob::Verify { piece: job.piece })));
        t.handle_verified(now, job.piece, true);
        assert!(t.have().contains(job.piece));
        assert_eq!(t.web_downloaded(), 1 << 16);
    }

    #[test]
    fn failed_fetches_back_off_and_three_bad_pieces_drop_the_seed() {
        let now = Instant::now();
        let mut t = torrent();
        let seed = t.add_web_seed("http://h/f".into(), WebSeedKind::Url);
        let job = t.poll_web_fetch(now).unwrap();
        t.handle_web_failed(now, seed, job.piece, "404".into());
        // The others are still in flight; this one's piece is free again but the seed waits.
        assert!(t.poll_web_fetch(now).is_none());
        assert!(t.poll_timeout().is_some());
        let later = now + std::time::Duration::from_secs(2);
        assert!(t
            .poll_web_fetch(later - std::time::Duration::from_millis(1))
            .is_none());
        let mut bad = 0;
        let mut at = later;
        while bad < 3 {
            let Some(job) = t.poll_web_fetch(at) else {
                at += std::time::Duration::from_secs(1);
                continue;
            };
            t.handle_web_data(at, seed, job.piece, 0, Bytes::from(vec![1u8; 1 << 16]));
            t.handle_verified(at, job.piece, false);
            bad += 1;
        }
        let info = &t.web_seeds()[0];
        assert_eq!(info.hash_failures, 3);
        assert!(info.dropped.is_some(), "{info:?}");
        assert!(t
            .poll_web_fetch(at + std::time::Duration::from_secs(600))
            .is_none());
        assert!(
            !t.have().contains(0) && t.have().count() == 0,
            "no bad piece kept"
        );
    }
}
