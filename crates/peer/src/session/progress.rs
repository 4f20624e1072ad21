//! What a running session shows to the outside: totals, rates and the peer list, sent on a
//! watch channel a few times a second for progress bars, status tables and live views.

use std::net::SocketAddr;

use torrentkit_wire::PeerId;

use crate::Bitfield;

/// A snapshot of a running session, for progress displays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Pieces in the torrent.
    pub pieces: u32,
    /// Pieces verified.
    pub have: u32,
    /// Bytes not yet verified.
    pub bytes_left: u64,
    /// Payload bytes downloaded this session.
    pub downloaded: u64,
    /// Payload bytes uploaded this session.
    pub uploaded: u64,
    /// Current download rate, bytes per second.
    pub download_rate: u64,
    /// Current upload rate, bytes per second.
    pub upload_rate: u64,
    /// Connected peers.
    pub peers: usize,
    /// Connected peers that are seeds.
    pub seeds: usize,
    /// Pieces that failed their hash check.
    pub hash_failures: u32,
    /// Every piece is verified.
    pub complete: bool,
    /// Paused with [`Session::pause`](super::Session::pause): no connections until resumed.
    pub paused: bool,
    /// The verified pieces (for a resume file saved while the session runs).
    pub verified: Bitfield,
    /// Every connection, in the order they were made.
    pub peer_list: Vec<PeerInfo>,
}

/// One connection as a live view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer's id, once its handshake arrived (`client()` names its program).
    pub peer_id: Option<PeerId>,
    /// We connected to it (rather than it to us).
    pub outgoing: bool,
    /// We are interested in its pieces.
    pub am_interested: bool,
    /// We choke it.
    pub am_choking: bool,
    /// It is interested in ours.
    pub peer_interested: bool,
    /// It chokes us.
    pub peer_choking: bool,
    /// It sends us nothing although we asked.
    pub snubbed: bool,
    /// Bytes per second we receive from it.
    pub download_rate: u64,
    /// Bytes per second we send it.
    pub upload_rate: u64,
    /// Payload bytes received from it.
    pub downloaded: u64,
    /// Payload bytes sent to it.
    pub uploaded: u64,
    /// Pieces it has announced.
    pub pieces: u32,
}

impl PeerInfo {
    /// The classic client's flag letters: `D`/`d` we download from it / are interested but
    /// choked, `U`/`u` we upload to it / it is interested but choked, `S` snubbed, `I`
    /// incoming.
    pub fn flags(&self) -> String {
        let mut f = String::new();
        match (self.am_interested, self.peer_choking) {
            (true, false) => f.push('D'),
            (true, true) => f.push('d'),
            _ => {}
        }
        match (self.peer_interested, self.am_choking) {
            (true, false) => f.push('U'),
            (true, true) => f.push('u'),
            _ => {}
        }
        if self.snubbed {
            f.push('S');
        }
        if !self.outgoing {
            f.push('I');
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerInfo {
        PeerInfo {
            addr: "127.0.0.1:6881".parse().unwrap(),
            peer_id: None,
            outgoing: true,
            am_interested: false,
            am_choking: true,
            peer_interested: false,
            peer_choking: true,
            snubbed: false,
            download_rate: 0,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            pieces: 0,
        }
    }

    #[test]
    fn flags_follow_the_classic_letters() {
        assert_eq!(peer().flags(), "");
        let downloading = PeerInfo {
            am_interested: true,
            peer_choking: false,
            ..peer()
        };
        assert_eq!(downloading.flags(), "D");
        let waiting_both_ways = PeerInfo {
            am_interested: true,
            peer_interested: true,
            outgoing: false,
            snubbed: true,
            ..peer()
        };
        assert_eq!(waiting_both_ways.flags(), "duSI");
        let uploading = PeerInfo {
            peer_interested: true,
            am_choking: false,
            ..peer()
        };
        assert_eq!(uploading.flags(), "U");
    }
}
