//! [`ScrapeRequest`] (BEP 48) with its HTTP query form in both directions, and [`ScrapeStats`],
//! one torrent's counts in a scrape reply.

use torrentkit_metainfo::InfoHash;

use crate::error::RequestError;
use crate::query;

/// The info-hashes of a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeRequest {
    /// The torrents asked about, in request order.
    pub info_hashes: Vec<InfoHash>,
}

impl ScrapeRequest {
    /// Appends one `info_hash` parameter per torrent to `target` (a URL or request target such
    /// as `/scrape`, joined with `?` or `&` as it needs, or an empty string).
    pub fn write_query(&self, target: &mut String) {
        let mut q = query::QueryWriter::new(target);
        for h in &self.info_hashes {
            q.bytes("info_hash", &h.0);
        }
    }

    /// Parses the raw query string of `/scrape`: one or more `info_hash` parameters (at most
    /// `max_hashes`), in a query of at most `max_len` bytes. Other parameters are ignored.
    pub fn parse(
        raw: &[u8],
        max_len: usize,
        max_hashes: usize,
    ) -> Result<ScrapeRequest, RequestError> {
        query::check_len(raw, max_len)?;
        let mut info_hashes = Vec::new();
        for (name, value) in query::pairs(raw) {
            if name == b"info_hash" {
                info_hashes.push(InfoHash(query::decode_20(value, "info_hash")?));
            }
        }
        if info_hashes.is_empty() {
            return Err(RequestError::NoInfoHash);
        }
        if info_hashes.len() > max_hashes {
            return Err(RequestError::TooManyInfoHashes {
                count: info_hashes.len(),
                max: max_hashes,
            });
        }
        Ok(ScrapeRequest { info_hashes })
    }
}

/// One torrent's counts in a scrape reply.
///
/// `completed` is a `u64` because an HTTP tracker may count past four billion downloads; the UDP
/// reply carries 32 bits, and a tracker saturates it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScrapeStats {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Peers with the complete file (`complete`).
    pub seeders: u32,
    /// Completed downloads the tracker has seen (`downloaded`).
    pub completed: u64,
    /// Peers still downloading (`incomplete`).
    pub leechers: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HASH: &str = "%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14";

    #[test]
    fn scrape_counts_and_limits() {
        let q = format!("info_hash={HASH}&info_hash=aaaaaaaaaaaaaaaaaaaa");
        let s = ScrapeRequest::parse(q.as_bytes(), 4096, 74).unwrap();
        assert_eq!(s.info_hashes.len(), 2);
        assert_eq!(s.info_hashes[1].0, [b'a'; 20]);
        assert_eq!(
            ScrapeRequest::parse(b"", 4096, 74).unwrap_err(),
            RequestError::NoInfoHash
        );
        assert_eq!(
            ScrapeRequest::parse(q.as_bytes(), 4096, 1)
                .unwrap_err()
                .to_string(),
            "too many info_hash values (2, limit 1)"
        );
    }

    #[test]
    fn the_client_query_repeats_info_hash() {
        let mut t = String::from("/scrape");
        ScrapeRequest {
            info_hashes: vec![InfoHash([b'a'; 20]), InfoHash([b'b'; 20])],
        }
        .write_query(&mut t);
        assert_eq!(
            t,
            format!(
                "/scrape?info_hash={}&info_hash={}",
                "a".repeat(20),
                "b".repeat(20)
            )
        );
    }

    proptest! {
        #[test]
        fn http_query_round_trips(hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..80)) {
            let req = ScrapeRequest { info_hashes: hashes.into_iter().map(InfoHash).collect() };
            let mut target = String::from("/scrape");
            req.write_query(&mut target);
            let (_, query) = target.split_once('?').unwrap();
            prop_assert_eq!(ScrapeRequest::parse(query.as_bytes(), 1 << 16, 80), Ok(req));
        }
    }
}
