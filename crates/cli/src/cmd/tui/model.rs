//! What the live view shows of one torrent: [`TorrentView`] (metainfo, state label and the
//! session's [`Progress`]) and its files ([`FileView`]), with the numbers derived from them.

use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{PeerInfo, Percent, Progress};

use super::files::verified_bytes;

/// One file as the view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileView {
    /// The path inside the torrent, joined with `/` (the name alone for a single-file torrent).
    pub(crate) path: String,
    /// Offset of its first byte in the torrent's concatenated data.
    pub(crate) offset: u64,
    /// Length in bytes.
    pub(crate) length: u64,
}

/// One torrent as the view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TorrentView {
    /// The name shown in the table.
    pub(crate) name: String,
    /// The info-hash in hex.
    pub(crate) info_hash: String,
    /// Size of the data in bytes.
    pub(crate) total: u64,
    /// Bytes per piece.
    pub(crate) piece_length: u64,
    /// The files in data order, pad files left out.
    pub(crate) files: Vec<FileView>,
    /// "downloading", "seeding", "paused", "checking", "error: ..." and the like.
    pub(crate) state: String,
    /// The session's last progress snapshot.
    pub(crate) progress: Progress,
}

impl TorrentView {
    /// A view of `torrent` called `name`, in state "starting", with no progress yet.
    pub(crate) fn new(torrent: &Torrent, name: impl Into<String>) -> TorrentView {
        let info = torrent.info();
        TorrentView {
            name: name.into(),
            info_hash: torrent.info_hash().to_hex(),
            total: info.total_size(),
            piece_length: info.piece_length(),
            files: info
                .files()
                .iter()
                .filter(|f| !f.pad)
                .map(|f| FileView {
                    path: f.display_path(),
                    offset: f.offset,
                    length: f.length,
                })
                .collect(),
            state: "starting".to_owned(),
            progress: Progress::default(),
        }
    }

    /// Takes a new progress snapshot and the state label that goes with it.
    pub(crate) fn update(&mut self, progress: Progress) {
        self.state = state_of(&progress).to_owned();
        self.progress = progress;
    }

    /// The verified bytes of each of [`files`](Self::files).
    pub(crate) fn file_done(&self) -> Vec<u64> {
        verified_bytes(
            self.files.iter().map(|f| (f.offset, f.length)),
            &self.progress.verified,
            self.piece_length,
        )
    }

    /// The share of the torrent's pieces that `peer` has, as a percentage.
    pub(crate) fn peer_percent(&self, peer: &PeerInfo) -> String {
        Percent::of(u64::from(peer.pieces), u64::from(self.progress.pieces)).to_string()
    }
}

/// The state label of a session that reports `p`.
pub(crate) fn state_of(p: &Progress) -> &'static str {
    if p.paused {
        "paused"
    } else if p.complete {
        "seeding"
    } else {
        "downloading"
    }
}

/// The program a peer runs, from its peer id: the client's name and version when known, the
/// id's first bytes otherwise, `-` before its handshake.
pub(crate) fn client_name(peer: &PeerInfo) -> String {
    match peer.peer_id {
        None => "-".to_owned(),
        Some(id) => match id.client() {
            Some(client) => client.to_string(),
            None => id.0[..8]
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use torrentkit_metainfo::TorrentBuilder;
    use torrentkit_peer::Bitfield;
    use torrentkit_wire::PeerId;

    use super::*;

    fn peer(id: Option<&[u8; 20]>, pieces: u32) -> PeerInfo {
        PeerInfo {
            addr: "127.0.0.1:6881".parse().unwrap(),
            peer_id: id.map(|id| PeerId(*id)),
            outgoing: true,
            am_interested: true,
            am_choking: true,
            peer_interested: false,
            peer_choking: false,
            snubbed: false,
            download_rate: 0,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            pieces,
            encrypted: false,
            utp: false,
            source: torrentkit_peer::PeerSource::Manual,
        }
    }

    #[test]
    fn client_names_come_from_the_peer_id() {
        assert_eq!(
            client_name(&peer(Some(b"-LT2080-0123456789ab"), 0)),
            "libtorrent (Rasterbar) 2.0.8"
        );
        assert_eq!(
            client_name(&peer(Some(b"-TK0100-0123456789ab"), 0)),
            "torrentkit 0.1.0"
        );
        // An id of no known style: its first bytes, non-printable ones as dots.
        assert_eq!(
            client_name(&peer(Some(b"Zz\x01\x02abcdefghijklmnop"), 0)),
            "Zz..abcd"
        );
        assert_eq!(client_name(&peer(None, 0)), "-");
    }

    #[test]
    fn state_labels_follow_the_progress() {
        let mut p = Progress {
            pieces: 4,
            bytes_left: 1000,
            download_rate: 100,
            ..Progress::default()
        };
        assert_eq!(state_of(&p), "downloading");
        p.paused = true;
        assert_eq!(state_of(&p), "paused");
        p.paused = false;
        p.complete = true;
        assert_eq!(state_of(&p), "seeding");
        p.paused = true;
        assert_eq!(state_of(&p), "paused");
    }

    #[test]
    fn a_view_is_built_from_the_torrent_and_follows_its_progress() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("album");
        std::fs::create_dir_all(top.join("cd1")).unwrap();
        std::fs::write(top.join("cd1/a.flac"), vec![1u8; 40_000]).unwrap();
        std::fs::write(top.join("b.txt"), vec![2u8; 10_000]).unwrap();
        let torrent = TorrentBuilder::new(&top)
            .piece_length(16_384)
            .build()
            .unwrap();
        let mut view = TorrentView::new(&torrent, "album");
        assert_eq!(view.total, 50_000);
        assert_eq!(view.piece_length, 16_384);
        assert_eq!(view.info_hash, torrent.info_hash().to_hex());
        let paths: Vec<&str> = view.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["album/b.txt", "album/cd1/a.flac"]);
        assert_eq!(view.state, "starting");
        assert_eq!(
            view.progress.done_bytes(),
            0,
            "nothing is known before the first report"
        );
        assert_eq!(view.progress.eta(), None);

        // Piece 0 covers b.txt (10 000 bytes) and the first 6 384 bytes of a.flac.
        let mut verified = Bitfield::new(4);
        verified.insert(0).unwrap();
        view.update(Progress {
            pieces: 4,
            have: 1,
            total: 50_000,
            bytes_left: 50_000 - 16_384,
            download_rate: 1000,
            verified,
            ..Progress::default()
        });
        assert_eq!(view.state, "downloading");
        assert_eq!(view.progress.done_bytes(), 16_384);
        assert_eq!(view.file_done(), [10_000, 6_384]);
        assert_eq!(
            view.progress.eta(),
            Some(std::time::Duration::from_millis(33_616))
        );
        assert_eq!(view.peer_percent(&peer(None, 1)), "25.0%");
    }
}
