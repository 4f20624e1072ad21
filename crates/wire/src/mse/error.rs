//! Why an MSE handshake failed; each reason ends that connection.

use std::fmt;

/// What went wrong in an MSE handshake. Every variant is final: the connection is to be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MseError {
    /// The peer's public key is 0, 1, P - 1 or not below P.
    BadPublicKey,
    /// The synchronisation point (the responder's encrypted VC, or the initiator's
    /// `HASH('req1', S)`) was not within the bytes the spec allows.
    NoSync {
        /// What was searched for: `"vc"` or `"req1"`.
        marker: &'static str,
        /// How many bytes were received without finding it.
        searched: usize,
    },
    /// `HASH('req2', SKEY) xor HASH('req3', S)` matches none of our torrents.
    UnknownInfoHash,
    /// The decrypted verification constant is not eight zero bytes.
    BadVc,
    /// A padding length over 512.
    PadTooLong {
        /// Which padding: `"PadC"` or `"PadD"`.
        pad: &'static str,
        /// The length given.
        len: u16,
    },
    /// The responder's `crypto_select` is not exactly one of the methods we offered.
    SelectNotOffered {
        /// The `crypto_select` received.
        select: u32,
        /// Our `crypto_provide`.
        offered: u32,
    },
    /// The initiator offers no method we allow.
    NoCommonMethod {
        /// The `crypto_provide` received.
        provided: u32,
        /// The methods we allow.
        allowed: u32,
    },
}

impl fmt::Display for MseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MseError::BadPublicKey => f.write_str("mse: the peer's public key is degenerate"),
            MseError::NoSync { marker, searched } => {
                write!(f, "mse: no {marker} within the first {searched} bytes")
            }
            MseError::UnknownInfoHash => f.write_str("mse: req2 matches no torrent of ours"),
            MseError::BadVc => f.write_str("mse: the verification constant is not zero"),
            MseError::PadTooLong { pad, len } => write!(f, "mse: {pad} length {len} is over 512"),
            MseError::SelectNotOffered { select, offered } => write!(
                f,
                "mse: crypto_select {select:#x} is not one of the offered {offered:#x}"
            ),
            MseError::NoCommonMethod { provided, allowed } => write!(
                f,
                "mse: crypto_provide {provided:#x} has none of the allowed {allowed:#x}"
            ),
        }
    }
}

impl std::error::Error for MseError {}
