//! The MSE handshake as a state machine for either role: fed received bytes, polled for bytes to
//! send, finished with the negotiated method, the two RC4 streams and the first payload bytes.
//!
//! ```text
//! 1 A->B: Ya, PadA
//! 2 B->A: Yb, PadB
//! 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//!         ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//! 4 B->A: ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
//! ```

use super::keys::{self, Cipher, KEY_LEN};
use super::{Methods, MseError};

/// The verification constant: eight zero bytes.
const VC: [u8; 8] = [0; 8];
/// The most padding any of PadA..PadD may hold.
pub const MAX_PAD: usize = 512;
/// Bytes before the responder's encrypted VC may start: its public key and PadB.
const VC_SEARCH: usize = KEY_LEN + MAX_PAD + VC.len();
/// Bytes within which the initiator's `HASH('req1', S)` must end: its public key, PadA, the hash.
const REQ1_SEARCH: usize = KEY_LEN + MAX_PAD + 20;

/// The randomness a handshake needs, drawn by the caller (this crate has no random source).
#[derive(Debug, Clone)]
pub struct Secret {
    /// The Diffie-Hellman private key: 160 random bits, as the spec asks.
    pub private_key: [u8; 20],
    /// PadA or PadB (what a listener sees in clear after the public key): random bytes, at most
    /// 512. PadC and PadD, which travel encrypted, are left empty.
    pub pad: Vec<u8>,
}

/// The settled outcome of a handshake.
#[derive(Debug)]
pub struct Established {
    /// The method chosen: [`Methods::RC4`] or [`Methods::PLAINTEXT`] (one bit).
    pub method: Methods,
    /// The torrent the connection is for (SKEY): the initiator's, or the one of the responder's
    /// list that `req2` named.
    pub info_hash: [u8; 20],
    /// The streams for the rest of the connection, when RC4 was chosen.
    pub streams: Option<Streams>,
    /// Payload bytes already received, decrypted: for a responder, the initiator's IA (its
    /// BitTorrent handshake) and whatever followed it.
    pub payload: Vec<u8>,
}

/// The two directions of an RC4 connection, in place on the caller's buffers.
#[derive(Debug)]
pub struct Streams {
    /// Applied to every byte we send.
    pub send: Cipher,
    /// Applied to every byte we receive.
    pub recv: Cipher,
}

enum State {
    /// Waiting for the peer's 96-byte public key.
    AwaitKey,
    /// Initiator: searching for the responder's encrypted VC.
    SyncVc {
        expect: [u8; 8],
    },
    /// Initiator: reading `crypto_select` and `len(PadD)`.
    Select,
    /// Initiator: skipping PadD.
    PadD {
        len: usize,
        select: Methods,
    },
    /// Responder: searching for `HASH('req1', S)`.
    SyncReq1,
    /// Responder: reading `req2 xor req3`.
    Req23,
    /// Responder: reading VC, `crypto_provide`, `len(PadC)`.
    Provide,
    /// Responder: skipping PadC and reading `len(IA)`.
    PadC {
        len: usize,
        provide: Methods,
    },
    /// Responder: reading IA.
    Ia {
        len: usize,
        provide: Methods,
    },
    Done(Methods),
    Failed,
}

enum Role {
    Initiator {
        provide: Methods,
        ia: Vec<u8>,
    },
    Responder {
        info_hashes: Vec<[u8; 20]>,
        allowed: Methods,
        prefer: Methods,
    },
}

/// One MSE handshake. Feed it what the peer sends ([`handle_bytes`](Self::handle_bytes)), send
/// what [`poll_transmit`](Self::poll_transmit) gives, until [`is_done`](Self::is_done); then
/// [`finish`](Self::finish). It does no I/O and reads no clock: the caller bounds the time.
pub struct Handshake {
    role: Role,
    state: State,
    secret: Secret,
    /// Received bytes not yet consumed (bounded by the state's needs, at most about 66 KiB:
    /// the sync window, PadC and a 64 KiB IA).
    input: Vec<u8>,
    /// Bytes of `input` already searched or consumed.
    pos: usize,
    output: Vec<u8>,
    /// `S`, once the peer's key is in.
    s: [u8; KEY_LEN],
    info_hash: [u8; 20],
    send: Option<Cipher>,
    recv: Option<Cipher>,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("initiator", &matches!(self.role, Role::Initiator { .. }))
            .field("done", &self.is_done())
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The side that dials, for the torrent `info_hash`, offering `provide` (plaintext and/or
    /// RC4), with `ia` (at most 65,535 bytes, normally the BitTorrent handshake) sent encrypted
    /// in step 3. Its first bytes (`Ya`, PadA) are ready to send at once.
    pub fn initiator(info_hash: [u8; 20], provide: Methods, ia: Vec<u8>, secret: Secret) -> Self {
        debug_assert!(ia.len() <= usize::from(u16::MAX) && secret.pad.len() <= MAX_PAD);
        let mut h = Handshake::new(Role::Initiator { provide, ia }, secret);
        h.info_hash = info_hash;
        h.send_key();
        h
    }

    /// The side that accepts, for any torrent in `info_hashes`, choosing `prefer` when the
    /// initiator offers it and otherwise another of `allowed`. It sends nothing until the
    /// initiator's key is in.
    pub fn responder(
        info_hashes: Vec<[u8; 20]>,
        allowed: Methods,
        prefer: Methods,
        secret: Secret,
    ) -> Self {
        Handshake::new(
            Role::Responder {
                info_hashes,
                allowed,
                prefer,
            },
            secret,
        )
    }

    fn new(role: Role, mut secret: Secret) -> Self {
        secret.pad.truncate(MAX_PAD);
        Handshake {
            role,
            state: State::AwaitKey,
            secret,
            input: Vec::new(),
            pos: 0,
            output: Vec::new(),
            s: [0; KEY_LEN],
            info_hash: [0; 20],
            send: None,
            recv: None,
            payload: Vec::new(),
        }
    }

    fn send_key(&mut self) {
        self.output
            .extend_from_slice(&keys::public_key(&self.secret.private_key));
        self.output.extend_from_slice(&self.secret.pad);
    }

    /// True once the handshake has settled; [`finish`](Self::finish) then gives the outcome.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    /// Bytes to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.output.is_empty()).then(|| std::mem::take(&mut self.output))
    }

    /// Takes bytes from the peer. Bytes past the end of the handshake are payload and come back,
    /// decrypted, in [`Established::payload`]. An error is final.
    pub fn handle_bytes(&mut self, data: &[u8]) -> Result<(), MseError> {
        if matches!(self.state, State::Failed) {
            return Err(MseError::BadVc);
        }
        if let State::Done(_) = self.state {
            let start = self.payload.len();
            self.payload.extend_from_slice(data);
            if let Some(recv) = &mut self.recv {
                recv.apply(&mut self.payload[start..]);
            }
            return Ok(());
        }
        self.input.extend_from_slice(data);
        let r = self.advance();
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    /// The outcome, once [`is_done`](Self::is_done) (`None` before, or after a failure).
    pub fn finish(self) -> Option<Established> {
        let State::Done(method) = self.state else {
            return None;
        };
        let streams = match (method == Methods::RC4, self.send, self.recv) {
            (true, Some(send), Some(recv)) => Some(Streams { send, recv }),
            _ => None,
        };
        Some(Established {
            method,
            info_hash: self.info_hash,
            streams,
            payload: self.payload,
        })
    }

    /// Takes `n` bytes at `pos` if they are in, decrypted with the receiving stream.
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        if self.input.len() - self.pos < n {
            return None;
        }
        let mut out = self.input[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if let Some(recv) = &mut self.recv {
            recv.apply(&mut out);
        }
        Some(out)
    }

    fn advance(&mut self) -> Result<(), MseError> {
        loop {
            let progressed = match self.state {
                State::AwaitKey => self.on_key()?,
                State::SyncVc { expect } => self.sync_vc(expect)?,
                State::Select => self.on_select()?,
                State::PadD { len, select } => match self.take(len) {
                    Some(_) => {
                        self.state = State::Done(select);
                        self.finish_input(select);
                        true
                    }
                    None => false,
                },
                State::SyncReq1 => self.sync_req1()?,
                State::Req23 => self.on_req23()?,
                State::Provide => self.on_provide()?,
                State::PadC { len, provide } => match self.take(len + 2) {
                    Some(b) => {
                        let len = usize::from(u16::from_be_bytes([b[len], b[len + 1]]));
                        self.state = State::Ia { len, provide };
                        true
                    }
                    None => false,
                },
                State::Ia { len, provide } => self.on_ia(len, provide)?,
                State::Done(_) | State::Failed => return Ok(()),
            };
            if !progressed {
                return Ok(());
            }
        }
    }

    fn on_key(&mut self) -> Result<bool, MseError> {
        if self.input.len() < KEY_LEN {
            return Ok(false);
        }
        let theirs: [u8; KEY_LEN] = self.input[..KEY_LEN].try_into().expect("96 bytes");
        self.s = keys::shared_secret(&self.secret.private_key, &theirs)?;
        self.pos = KEY_LEN;
        match &self.role {
            Role::Initiator { provide, ia, .. } => {
                let (provide, ia) = (*provide, ia.clone());
                let s = self.s;
                self.output.extend_from_slice(&keys::req1(&s));
                self.output
                    .extend_from_slice(&keys::req2_xor_req3(&self.info_hash, &s));
                let mut send = Cipher::new(b"keyA", &s, &self.info_hash);
                let mut rest = Vec::with_capacity(8 + 4 + 2 + 2 + ia.len());
                rest.extend_from_slice(&VC);
                rest.extend_from_slice(&provide.0.to_be_bytes());
                rest.extend_from_slice(&0u16.to_be_bytes()); // PadC is empty
                rest.extend_from_slice(&(ia.len() as u16).to_be_bytes());
                rest.extend_from_slice(&ia);
                send.apply(&mut rest);
                self.output.extend_from_slice(&rest);
                self.send = Some(send);
                let mut recv = Cipher::new(b"keyB", &s, &self.info_hash);
                let mut expect = VC;
                recv.apply(&mut expect);
                // `recv` now stands just past the VC it will find.
                self.recv = Some(recv);
                self.state = State::SyncVc { expect };
            }
            Role::Responder { .. } => {
                self.send_key();
                self.state = State::SyncReq1;
            }
        }
        Ok(true)
    }

    /// Finds `expect` (the encrypted VC) starting within PadB's 512 bytes after the key.
    fn sync_vc(&mut self, expect: [u8; 8]) -> Result<bool, MseError> {
        match find(&self.input, KEY_LEN, VC_SEARCH, &expect) {
            Some(at) => {
                self.pos = at + expect.len();
                self.state = State::Select;
                Ok(true)
            }
            None if self.input.len() >= VC_SEARCH => Err(MseError::NoSync {
                marker: "vc",
                searched: VC_SEARCH,
            }),
            None => Ok(false),
        }
    }

    fn on_select(&mut self) -> Result<bool, MseError> {
        let Some(b) = self.take(6) else {
            return Ok(false);
        };
        let select = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let Role::Initiator { provide, .. } = &self.role else {
            unreachable!("only an initiator reads crypto_select")
        };
        let offered = provide.0;
        if select.count_ones() != 1 || select & offered == 0 {
            return Err(MseError::SelectNotOffered { select, offered });
        }
        let len = u16::from_be_bytes([b[4], b[5]]);
        if usize::from(len) > MAX_PAD {
            return Err(MseError::PadTooLong { pad: "PadD", len });
        }
        self.state = State::PadD {
            len: usize::from(len),
            select: Methods(select),
        };
        Ok(true)
    }

    /// Finds `HASH('req1', S)` ending within the first 628 bytes.
    fn sync_req1(&mut self) -> Result<bool, MseError> {
        let req1 = keys::req1(&self.s);
        match find(&self.input, KEY_LEN, REQ1_SEARCH, &req1) {
            Some(at) => {
                self.pos = at + req1.len();
                self.state = State::Req23;
                Ok(true)
            }
            None if self.input.len() >= REQ1_SEARCH => Err(MseError::NoSync {
                marker: "req1",
                searched: REQ1_SEARCH,
            }),
            None => Ok(false),
        }
    }

    fn on_req23(&mut self) -> Result<bool, MseError> {
        let Some(b) = self.take(20) else {
            return Ok(false);
        };
        let got: [u8; 20] = b.try_into().expect("20 bytes");
        let req2 = keys::xor20(&got, &keys::req3(&self.s));
        let Role::Responder { info_hashes, .. } = &self.role else {
            unreachable!("only a responder reads req2")
        };
        let skey = info_hashes
            .iter()
            .find(|h| keys::req2(h) == req2)
            .ok_or(MseError::UnknownInfoHash)?;
        self.info_hash = *skey;
        self.recv = Some(Cipher::new(b"keyA", &self.s, skey));
        self.send = Some(Cipher::new(b"keyB", &self.s, skey));
        self.state = State::Provide;
        Ok(true)
    }

    fn on_provide(&mut self) -> Result<bool, MseError> {
        let Some(b) = self.take(14) else {
            return Ok(false);
        };
        if b[..8] != VC {
            return Err(MseError::BadVc);
        }
        let provide = Methods(u32::from_be_bytes([b[8], b[9], b[10], b[11]]));
        let len = u16::from_be_bytes([b[12], b[13]]);
        if usize::from(len) > MAX_PAD {
            return Err(MseError::PadTooLong { pad: "PadC", len });
        }
        self.state = State::PadC {
            len: usize::from(len),
            provide,
        };
        Ok(true)
    }

    fn on_ia(&mut self, len: usize, provide: Methods) -> Result<bool, MseError> {
        let Some(ia) = self.take(len) else {
            return Ok(false);
        };
        let Role::Responder {
            allowed, prefer, ..
        } = &self.role
        else {
            unreachable!("only a responder reads IA")
        };
        let common = Methods(provide.0 & allowed.0);
        let select = if common.0 & prefer.0 != 0 {
            *prefer
        } else if common.0 & Methods::RC4.0 != 0 {
            Methods::RC4
        } else if common.0 & Methods::PLAINTEXT.0 != 0 {
            Methods::PLAINTEXT
        } else {
            return Err(MseError::NoCommonMethod {
                provided: provide.0,
                allowed: allowed.0,
            });
        };
        let mut reply = Vec::with_capacity(14);
        reply.extend_from_slice(&VC);
        reply.extend_from_slice(&select.0.to_be_bytes());
        reply.extend_from_slice(&0u16.to_be_bytes()); // PadD is empty
        self.send.as_mut().expect("keyed at req2").apply(&mut reply);
        self.output.extend_from_slice(&reply);
        self.payload = ia;
        self.state = State::Done(select);
        self.finish_input(select);
        Ok(true)
    }

    /// Moves what is left of the input to the payload: decrypted under RC4, as it is under
    /// plaintext.
    fn finish_input(&mut self, method: Methods) {
        if method != Methods::RC4 {
            self.recv = None;
            self.send = None;
        }
        let rest = self.input.split_off(self.pos);
        self.input = Vec::new();
        let start = self.payload.len();
        self.payload.extend_from_slice(&rest);
        if let Some(recv) = &mut self.recv {
            recv.apply(&mut self.payload[start..]);
        }
    }
}

/// The first position `p >= from` with `marker` at `buf[p..]`, the marker ending within `limit`.
fn find(buf: &[u8], from: usize, limit: usize, marker: &[u8]) -> Option<usize> {
    let end = buf.len().min(limit);
    if end < from + marker.len() {
        return None;
    }
    buf[from..end]
        .windows(marker.len())
        .position(|w| w == marker)
        .map(|p| p + from)
}
