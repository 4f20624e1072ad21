//! Inputs for `benches/wire.rs`: message streams as a peer would receive them, and the checks
//! that the decoder reads them back exactly before anything is timed.

use torrentkit_wire::{BlockRequest, Limits, Message, Messages};

/// The block size every client uses.
pub const BLOCK_LEN: usize = 16 * 1024;

/// A stream of `count` `piece` messages with 16 KiB blocks (4 MiB for 256), blocks filled with
/// a byte pattern so nothing is all zeros.
pub fn piece_stream(count: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(count as usize * (13 + BLOCK_LEN));
    let block: Vec<u8> = (0..BLOCK_LEN).map(|i| (i * 31 % 251) as u8).collect();
    for i in 0..count {
        Message::Piece {
            index: i / 16,
            begin: (i % 16) * BLOCK_LEN as u32,
            block: &block,
        }
        .encode(&mut out)
        .expect("a 16 KiB block fits a length prefix");
    }
    out
}

/// A stream of `count` small messages in the mix a downloading connection sees: mostly `have`
/// and `request`, with choke state changes, cancels, keep-alives and fast-extension messages.
pub fn small_stream(count: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(count as usize * 14);
    for i in 0..count {
        let r = BlockRequest {
            index: i,
            begin: (i % 16) * BLOCK_LEN as u32,
            length: BLOCK_LEN as u32,
        };
        let message = match i % 16 {
            0..=5 => Message::Have { piece: i },
            6..=10 => Message::Request(r),
            11 => Message::Cancel(r),
            12 => Message::RejectRequest(r),
            13 => Message::AllowedFast { piece: i },
            14 => {
                [Message::Unchoke, Message::Interested, Message::KeepAlive][(i / 16 % 3) as usize]
            }
            _ => Message::SuggestPiece { piece: i },
        };
        message.encode(&mut out).expect("small messages encode");
    }
    out
}

/// What decoding a stream yields, folded so the optimiser cannot drop the work: the number of
/// messages and a sum over their fields (block lengths for pieces).
pub fn decode_all(stream: &[u8]) -> (u64, u64) {
    let mut count = 0u64;
    let mut sum = 0u64;
    for message in Messages::new(stream, Limits::default()) {
        count += 1;
        sum = sum.wrapping_add(match message.expect("the bench streams are valid") {
            Message::Piece { index, block, .. } => u64::from(index) + block.len() as u64,
            Message::Have { piece } | Message::AllowedFast { piece } => u64::from(piece),
            Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => {
                u64::from(r.index) + u64::from(r.begin)
            }
            other => u64::from(other.id().unwrap_or(255)),
        });
    }
    (count, sum)
}

/// Decodes a piece stream and copies every block into its place in `pieces` (what a client
/// does to assemble a piece before hashing it), returning the message count.
pub fn decode_and_copy(stream: &[u8], pieces: &mut [u8]) -> u64 {
    let mut count = 0;
    let piece_len = 16 * BLOCK_LEN;
    for message in Messages::new(stream, Limits::default()) {
        if let Ok(Message::Piece {
            index,
            begin,
            block,
        }) = message
        {
            let at = index as usize * piece_len + begin as usize;
            pieces[at..at + block.len()].copy_from_slice(block);
            count += 1;
        }
    }
    count
}

/// Checks that the streams decode to exactly what was encoded; returns what is wrong.
pub fn check(pieces: u32, small: u32) -> Vec<String> {
    let mut failures = Vec::new();
    let stream = piece_stream(pieces);
    let mut messages = Messages::new(&stream, Limits::default());
    let n = messages
        .by_ref()
        .filter(|m| matches!(m, Ok(Message::Piece { block, .. }) if block.len() == BLOCK_LEN))
        .count();
    if n != pieces as usize || messages.consumed() != stream.len() {
        failures.push(format!("piece stream: {n} of {pieces} pieces decoded"));
    }
    let mut assembled = vec![0; pieces as usize * BLOCK_LEN];
    if decode_and_copy(&stream, &mut assembled) != u64::from(pieces)
        || assembled[..BLOCK_LEN] != stream[13..13 + BLOCK_LEN]
    {
        failures.push("piece stream: blocks not assembled".into());
    }
    let stream = small_stream(small);
    let (count, _) = decode_all(&stream);
    if count != u64::from(small) {
        failures.push(format!("small stream: {count} of {small} messages decoded"));
    }
    let mut again = Vec::new();
    for m in Messages::new(&stream, Limits::default()) {
        m.expect("valid").encode(&mut again).expect("encodes");
    }
    if again != stream {
        failures.push("small stream: re-encoding differs".into());
    }
    failures
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_streams_decode_exactly() {
        assert_eq!(super::check(32, 1000), Vec::<String>::new());
    }
}
