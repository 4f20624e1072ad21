//! Extension messages (BEP 10): our extension handshake and the peer's, whose `reqq` bounds
//! our request queue; ut_metadata (BEP 9: serving our `info` dictionary, at a bounded rate per
//! peer, and passing the peer's pieces on) and ut_pex (BEP 11: passing the peer's lists on,
//! sending ours).
//!
//! A malformed or unknown extension message is dropped with a [`ConnEvent::ExtensionIgnored`]
//! naming why; it does not close the connection.

use std::time::{Duration, Instant};

use torrentkit_wire::{
    ExtendedHandshake, ExtendedMessage, ExtensionIds, Message, MetadataMessage, PexMessage,
    METADATA_PIECE_LEN,
};

use super::{CloseReason, ConnEvent, Connection};

/// The window over which a peer's metadata requests are counted.
const METADATA_WINDOW: Duration = Duration::from_secs(60);

impl Connection {
    /// The extension ids we advertise: ut_metadata always (we answer even while we do not have
    /// the metadata, with a reject), ut_pex when enabled.
    pub(super) fn our_extensions(&self) -> ExtensionIds {
        let mut ids = ExtensionIds::default();
        if !self.cfg.pex {
            ids.ut_pex = None;
        }
        ids
    }

    /// Sends our extension handshake: client name, listen port, our `reqq`, our extensions and
    /// the metadata size when we have it.
    pub(super) fn send_extension_handshake(&mut self, now: Instant) {
        let client = format!("torrentkit {}", env!("CARGO_PKG_VERSION"));
        let mut ours = ExtendedHandshake {
            client: Some(client.as_bytes()),
            listen_port: self.cfg.listen_port,
            request_queue: Some(self.cfg.max_peer_requests),
            metadata_size: self.cfg.metadata.as_ref().map(|m| m.len() as u64),
            ..ExtendedHandshake::default()
        };
        self.our_extensions().advertise(&mut ours);
        let payload = ours.to_payload();
        self.push(
            now,
            &Message::Extended {
                id: 0,
                payload: &payload,
            },
        );
    }

    /// The peer's extension handshake.
    pub(super) fn on_extension_handshake(&mut self, payload: &[u8]) -> Result<(), CloseReason> {
        let hs = ExtendedHandshake::decode(payload)?;
        if let Some(q) = hs.request_queue {
            self.peer_reqq = q.max(1);
        }
        self.theirs = ExtensionIds::from_handshake(&hs);
        self.events.push_back(ConnEvent::ExtensionHandshake {
            client: hs.client.map(|c| String::from_utf8_lossy(c).into_owned()),
            reqq: hs.request_queue,
            listen_port: hs.listen_port,
        });
        self.events.push_back(ConnEvent::Extensions {
            ut_metadata: self.theirs.ut_metadata.is_some(),
            ut_pex: self.theirs.ut_pex.is_some(),
            metadata_size: hs.metadata_size,
        });
        Ok(())
    }

    /// Any other extension message (`id` under our numbering), decoded from `buf`.
    pub(super) fn on_extension_message(
        &mut self,
        now: Instant,
        id: u8,
        payload: &[u8],
        buf: &bytes::Bytes,
    ) {
        let ours = self.our_extensions();
        let msg = match ExtendedMessage::decode(id, payload, &ours) {
            Ok(m) => m,
            Err(e) => {
                return self
                    .events
                    .push_back(ConnEvent::ExtensionIgnored(e.to_string()))
            }
        };
        match msg {
            ExtendedMessage::Metadata(MetadataMessage::Request { piece }) => {
                self.serve_metadata(now, piece)
            }
            ExtendedMessage::Metadata(MetadataMessage::Data {
                piece,
                total_size,
                data,
            }) => self.events.push_back(ConnEvent::MetadataPiece {
                piece,
                total_size,
                data: buf.slice_ref(data),
            }),
            ExtendedMessage::Metadata(MetadataMessage::Reject { piece }) => {
                self.events.push_back(ConnEvent::MetadataRejected(piece))
            }
            ExtendedMessage::Pex(pex) => self.events.push_back(ConnEvent::Pex(pex)),
            ExtendedMessage::Handshake(_) => {}
            other => self.events.push_back(ConnEvent::ExtensionIgnored(format!(
                "unknown extension message {other:?}"
            ))),
        }
    }

    /// Answers a request for metadata piece `piece`: the piece, or a reject when we do not
    /// have the metadata, the piece is out of range, or the peer asked too often (each piece
    /// twice a minute, plus a few).
    fn serve_metadata(&mut self, now: Instant, piece: u32) {
        if now >= self.metadata_window.0 + METADATA_WINDOW {
            self.metadata_window = (now, 0);
        }
        self.metadata_window.1 += 1;
        let Some(info) = self.cfg.metadata.clone() else {
            return self.send_metadata(now, &MetadataMessage::Reject { piece });
        };
        let pieces = info.len().div_ceil(METADATA_PIECE_LEN) as u32;
        let allowed = 2 * pieces + 8;
        let start = piece as usize * METADATA_PIECE_LEN;
        if self.metadata_window.1 > allowed || start >= info.len() {
            return self.send_metadata(now, &MetadataMessage::Reject { piece });
        }
        let end = (start + METADATA_PIECE_LEN).min(info.len());
        self.send_metadata(
            now,
            &MetadataMessage::Data {
                piece,
                total_size: info.len() as u64,
                data: &info[start..end],
            },
        );
    }

    fn send_metadata(&mut self, now: Instant, msg: &MetadataMessage<'_>) {
        let ext = ExtendedMessage::Metadata(*msg);
        if matches!(ext.encode(&self.theirs, &mut self.outbuf), Ok(true)) {
            self.last_send = now;
        }
    }

    /// Whether the peer takes ut_metadata messages.
    pub fn supports_metadata(&self) -> bool {
        self.theirs.ut_metadata.is_some()
    }

    /// Whether the peer takes ut_pex messages (and we advertised ours).
    pub fn supports_pex(&self) -> bool {
        self.cfg.pex && self.theirs.ut_pex.is_some()
    }

    /// Asks the peer for metadata piece `piece` (nothing when it lacks ut_metadata).
    pub fn request_metadata(&mut self, now: Instant, piece: u32) {
        self.send_metadata(now, &MetadataMessage::Request { piece });
    }

    /// Sends a ut_pex message; `false` when the peer does not take them.
    pub fn send_pex(&mut self, now: Instant, pex: &PexMessage) -> bool {
        if !self.supports_pex() {
            return false;
        }
        let sent = matches!(
            ExtendedMessage::Pex(pex.clone()).encode(&self.theirs, &mut self.outbuf),
            Ok(true)
        );
        if sent {
            self.last_send = now;
        }
        sent
    }
}
