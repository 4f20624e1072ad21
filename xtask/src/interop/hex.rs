//! Hex text for info-hashes and other raw bytes.

use std::fmt::Write as _;

use anyhow::{bail, Context as _};

/// Lower-case hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A 20-byte value (an info-hash) from 40 hex digits, surrounding whitespace ignored.
pub(crate) fn decode20(text: &str) -> anyhow::Result<[u8; 20]> {
    let text = text.trim();
    if text.len() != 40 || !text.is_ascii() {
        bail!("expected 40 hex digits, got {text:?}");
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = &text[2 * i..2 * i + 2];
        *byte = u8::from_str_radix(pair, 16)
            .with_context(|| format!("bad hex digits {pair:?} in {text:?}"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode20_round_trips_and_names_bad_input() {
        let text = "00ff10a0b1c2d3e4f5061728394a5b6c7d8e9fab";
        assert_eq!(encode(&decode20(text).unwrap()), text);
        assert_eq!(
            decode20(&format!(" {}\n", text.to_uppercase())).unwrap()[1],
            0xff
        );
        assert!(decode20("abc")
            .unwrap_err()
            .to_string()
            .contains("40 hex digits"));
        let err = decode20(&format!("zz{}", &text[2..])).unwrap_err();
        assert!(err.to_string().contains("\"zz\""), "{err}");
    }
}
