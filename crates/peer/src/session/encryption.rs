//! Protocol encryption (MSE/PE) on the socket side: the `--encryption` policy, telling an
//! incoming plaintext handshake from an MSE one by its first bytes, and running
//! [`mse::Handshake`] over a socket in either role. The handshake itself is `torrentkit-wire`'s;
//! this file only moves its bytes, bounds its time and draws its randomness. After it, RC4 runs
//! in the connection's reader and writer tasks (`sockets.rs`), in place on their buffers.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::transport::{Dialer, PeerStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torrentkit_wire::mse::{self, Handshake, Methods, MseError, Secret, Streams, MAX_PAD};
use torrentkit_wire::{HANDSHAKE_LEN, PROTOCOL};

use crate::Rng;

/// How long an MSE handshake may take, in either role, before the connection is dropped.
pub(super) const MSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The plaintext handshake's first bytes: its length byte and `BitTorrent protocol`.
pub(super) const PLAIN_PREFIX: usize = 1 + PROTOCOL.len();

/// Which connections use protocol encryption (MSE/PE, with RC4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encryption {
    /// Dial with MSE offering RC4 and plaintext, and once more in plaintext if the peer closes;
    /// accept both kinds of incoming peers (libtorrent's and Transmission's default).
    #[default]
    Prefer,
    /// RC4 only, both ways: never send a plaintext byte, refuse plaintext peers.
    Require,
    /// Dial in plaintext; still accept incoming MSE peers, choosing plaintext when offered.
    Plaintext,
}

impl Encryption {
    /// The methods an incoming MSE peer may choose under this policy, and the one we prefer.
    fn responder_methods(self) -> (Methods, Methods) {
        match self {
            Encryption::Prefer => (Methods::BOTH, Methods::RC4),
            Encryption::Require => (Methods::RC4, Methods::RC4),
            Encryption::Plaintext => (Methods::BOTH, Methods::PLAINTEXT),
        }
    }

    /// Whether trackers are told we support (`supportcrypto`) or require (`requirecrypto`)
    /// encryption.
    pub fn announces(self) -> (bool, bool) {
        match self {
            Encryption::Prefer => (true, false),
            Encryption::Require => (true, true),
            Encryption::Plaintext => (false, false),
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encryption::Prefer => "prefer",
            Encryption::Require => "require",
            Encryption::Plaintext => "plaintext",
        })
    }
}

impl FromStr for Encryption {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "prefer" => Ok(Encryption::Prefer),
            "require" => Ok(Encryption::Require),
            "plaintext" => Ok(Encryption::Plaintext),
            _ => Err(format!(
                "encryption `{s}`: expected prefer, require or plaintext"
            )),
        }
    }
}

/// Why an MSE handshake over a socket did not settle.
#[derive(Debug)]
pub(super) enum Failure {
    /// The handshake's own verdict.
    Mse(MseError),
    /// The peer closed (or the socket failed) before the handshake settled.
    Closed,
    /// It took longer than [`MSE_TIMEOUT`].
    Timeout,
    /// A plaintext peer under [`Encryption::Require`].
    Plaintext,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Mse(e) => e.fmt(f),
            Failure::Closed => f.write_str("mse: the peer closed during the handshake"),
            Failure::Timeout => write!(f, "mse: no handshake within {MSE_TIMEOUT:?}"),
            Failure::Plaintext => f.write_str("mse: a plaintext peer, and encryption is required"),
        }
    }
}

/// An MSE handshake's randomness: a 192-bit draw from the process's random hash keys (seeded by
/// the operating system) for the 160-bit private key, and 0..=512 bytes of padding.
fn secret() -> Secret {
    let mut words = [0u64; 3];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        *w = h.finish();
    }
    let mut private_key = [0u8; 20];
    for (i, b) in private_key.iter_mut().enumerate() {
        *b = words[i / 8].to_le_bytes()[i % 8];
    }
    let mut rng = Rng::new(words[2].rotate_left(17) ^ words[0]);
    let mut pad = vec![0u8; rng.index(MAX_PAD + 1)];
    rng.fill(&mut pad);
    Secret { private_key, pad }
}

/// Runs `hs` over `stream` until it settles, with `first` already received.
async fn drive(
    stream: &mut PeerStream,
    mut hs: Handshake,
    first: &[u8],
) -> Result<mse::Established, Failure> {
    let run = async {
        if !first.is_empty() {
            hs.handle_bytes(first).map_err(Failure::Mse)?;
        }
        let mut buf = vec![0u8; 4096];
        loop {
            if let Some(out) = hs.poll_transmit() {
                stream.write_all(&out).await.map_err(|_| Failure::Closed)?;
            }
            if hs.is_done() {
                return Ok(hs.finish().expect("done"));
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Err(Failure::Closed),
                Ok(n) => hs.handle_bytes(&buf[..n]).map_err(Failure::Mse)?,
            }
        }
    };
    tokio::time::timeout(MSE_TIMEOUT, run)
        .await
        .unwrap_or(Err(Failure::Timeout))
}

/// An incoming connection, told apart and (if MSE) settled.
#[derive(Debug)]
pub(super) struct Incoming {
    /// For MSE, the torrent `req2` named; for plaintext, `None` (the handshake names it).
    pub(super) info_hash: Option<[u8; 20]>,
    /// The plaintext (or decrypted) bytes already read: the peer's BitTorrent handshake, or its
    /// beginning.
    pub(super) prefix: Vec<u8>,
    /// The RC4 streams, when RC4 was chosen.
    pub(super) streams: Option<Streams>,
}

/// Reads an incoming peer's first 20 bytes: the plaintext handshake's start, or else the start
/// of an MSE handshake, which is then run as the responder for the torrents `info_hashes`
/// gives (asked only then, so that every torrent running at that moment counts).
pub(super) async fn accept(
    stream: &mut PeerStream,
    policy: Encryption,
    info_hashes: impl FnOnce() -> Vec<[u8; 20]>,
) -> Result<Incoming, Failure> {
    let mut first = vec![0u8; PLAIN_PREFIX];
    tokio::time::timeout(MSE_TIMEOUT, stream.read_exact(&mut first))
        .await
        .map_err(|_| Failure::Timeout)?
        .map_err(|_| Failure::Closed)?;
    if usize::from(first[0]) == PROTOCOL.len() && first[1..] == PROTOCOL[..] {
        if policy == Encryption::Require {
            return Err(Failure::Plaintext);
        }
        return Ok(Incoming {
            info_hash: None,
            prefix: first,
            streams: None,
        });
    }
    let (allowed, prefer) = policy.responder_methods();
    let hs = Handshake::responder(info_hashes(), allowed, prefer, secret());
    let done = drive(stream, hs, &first).await?;
    Ok(Incoming {
        info_hash: Some(done.info_hash),
        prefix: done.payload,
        streams: done.streams,
    })
}

/// An outgoing connection, settled: the stream (a new one after a plaintext fallback), the RC4
/// streams if any, and payload bytes already received.
pub(super) struct Dialled {
    pub(super) stream: PeerStream,
    pub(super) streams: Option<Streams>,
    pub(super) payload: Vec<u8>,
}

/// Opens an outgoing connection's stream under `policy`: MSE as the initiator for
/// `info_hash`, with the first [`HANDSHAKE_LEN`] bytes of `first` (our BitTorrent handshake)
/// as the IA; under `Prefer`, when that fails, once more in plaintext to `addr` over the same
/// transport (`dialer`'s uTP or TCP, whichever `stream` is). Whatever of
/// `first` is past the IA is left to the caller to send (encrypted if RC4).
pub(super) async fn dial(
    mut stream: PeerStream,
    addr: SocketAddr,
    policy: Encryption,
    info_hash: [u8; 20],
    first: &[u8],
    dialer: &Dialer,
) -> Result<Dialled, Failure> {
    let ia = &first[..first.len().min(HANDSHAKE_LEN)];
    let provide = match policy {
        Encryption::Require => Methods::RC4,
        Encryption::Prefer => Methods::BOTH,
        Encryption::Plaintext => {
            stream.write_all(ia).await.map_err(|_| Failure::Closed)?;
            return Ok(Dialled {
                stream,
                streams: None,
                payload: Vec::new(),
            });
        }
    };
    let hs = Handshake::initiator(info_hash, provide, ia.to_vec(), secret());
    match drive(&mut stream, hs, &[]).await {
        Ok(done) => Ok(Dialled {
            stream,
            streams: done.streams,
            payload: done.payload,
        }),
        Err(e) if policy == Encryption::Require => Err(e),
        Err(_) => {
            let utp = stream.is_utp();
            drop(stream);
            let mut stream = tokio::time::timeout(MSE_TIMEOUT, dialer.redial(addr, utp))
                .await
                .map_err(|_| Failure::Timeout)?
                .map_err(|_| Failure::Closed)?;
            stream.set_nodelay();
            stream.write_all(ia).await.map_err(|_| Failure::Closed)?;
            Ok(Dialled {
                stream,
                streams: None,
                payload: Vec::new(),
            })
        }
    }
}

/// Most incoming peers of one driver's own listener being told apart at once; more are
/// dropped (the shared listener has its own bound).
const MAX_CLASSIFYING: usize = 256;

/// Tells an incoming peer of the driver's own listener apart (plaintext or MSE for
/// `info_hash`) in a task of its own and hands it to the driver; drops it otherwise, or at once
/// when [`MAX_CLASSIFYING`] are already under way (`pending` counts them).
pub(super) fn spawn_classify(
    mut stream: PeerStream,
    addr: SocketAddr,
    policy: Encryption,
    info_hash: [u8; 20],
    commands: tokio::sync::mpsc::UnboundedSender<super::Command>,
    pending: &std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    if pending.fetch_add(1, Ordering::AcqRel) >= MAX_CLASSIFYING {
        pending.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let pending = pending.clone();
    tokio::spawn(async move {
        let accepted = accept(&mut stream, policy, || vec![info_hash]).await;
        pending.fetch_sub(1, Ordering::AcqRel);
        match accepted {
            Ok(inc) => {
                let _ = commands.send(super::Command::Incoming {
                    addr,
                    stream,
                    prefix: inc.prefix,
                    streams: inc.streams.map(Box::new),
                });
            }
            Err(e) => log::info!("incoming peer {addr}: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_modes_parse_print_and_announce_as_users_expect() {
        for mode in [
            Encryption::Prefer,
            Encryption::Require,
            Encryption::Plaintext,
        ] {
            assert_eq!(mode.to_string().parse::<Encryption>(), Ok(mode));
        }
        assert_eq!(Encryption::default(), Encryption::Prefer);
        let e = "rc4".parse::<Encryption>().unwrap_err();
        assert_eq!(e, "encryption `rc4`: expected prefer, require or plaintext");
        assert_eq!(Encryption::Prefer.announces(), (true, false));
        assert_eq!(Encryption::Require.announces(), (true, true));
        assert_eq!(Encryption::Plaintext.announces(), (false, false));
    }

    #[test]
    fn secrets_are_fresh_and_pads_bounded() {
        let (a, b) = (secret(), secret());
        assert_ne!(a.private_key, b.private_key);
        assert!(a.pad.len() <= MAX_PAD && b.pad.len() <= MAX_PAD);
    }
}
