//! An HTTP tracker announce (BEP 3) and scrape, as request targets with raw bytes url-encoded.

use super::http::percent_encode;

/// The fields of one announce.
#[derive(Debug, Clone)]
pub(crate) struct Announce {
    pub(crate) info_hash: [u8; 20],
    pub(crate) peer_id: [u8; 20],
    /// The port the peer says it listens on (data in the query; nothing is bound).
    pub(crate) port: u16,
    pub(crate) uploaded: u64,
    pub(crate) downloaded: u64,
    pub(crate) left: u64,
    /// `started`, `completed`, `stopped`, or none for a regular announce.
    pub(crate) event: Option<&'static str>,
    pub(crate) compact: bool,
}

impl Announce {
    /// A regular announce with nothing transferred and `left` bytes to go.
    pub(crate) fn new(info_hash: [u8; 20], peer_id: [u8; 20], port: u16, left: u64) -> Self {
        Announce {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left,
            event: None,
            compact: true,
        }
    }

    /// `/announce?...`, ready for [`super::http::get`].
    pub(crate) fn target(&self) -> String {
        let mut t = format!(
            "/announce?info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact={}",
            percent_encode(&self.info_hash),
            percent_encode(&self.peer_id),
            self.port,
            self.uploaded,
            self.downloaded,
            self.left,
            u8::from(self.compact),
        );
        if let Some(event) = self.event {
            t.push_str("&event=");
            t.push_str(event);
        }
        t
    }
}

/// `/scrape?info_hash=...` for the given info-hashes.
pub(crate) fn scrape_target(info_hashes: &[[u8; 20]]) -> String {
    let query: Vec<String> = info_hashes
        .iter()
        .map(|h| format!("info_hash={}", percent_encode(h)))
        .collect();
    format!("/scrape?{}", query.join("&"))
}

/// A peer id in the Azureus style, `-TK0001-` then twelve characters from `tag`.
pub(crate) fn peer_id(tag: &str) -> [u8; 20] {
    let mut id = *b"-TK0001-000000000000";
    for (slot, byte) in id[8..].iter_mut().zip(tag.bytes()) {
        *slot = byte;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_encodes_raw_hashes_and_the_event() {
        let mut a = Announce::new([0xab; 20], peer_id("x y"), 6881, 10);
        a.event = Some("started");
        let t = a.target();
        assert!(
            t.starts_with(&format!("/announce?info_hash={}&", "%AB".repeat(20))),
            "{t}"
        );
        assert!(
            t.contains("&peer_id=-TK0001-x%20y000000000&port=6881&"),
            "{t}"
        );
        assert!(t.ends_with("&left=10&compact=1&event=started"), "{t}");
    }

    #[test]
    fn scrape_target_lists_every_hash() {
        assert_eq!(
            scrape_target(&[[1; 20], [b'a'; 20]]),
            format!(
                "/scrape?info_hash={}&info_hash={}",
                "%01".repeat(20),
                "a".repeat(20)
            )
        );
    }
}
