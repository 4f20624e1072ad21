//! Fuzz target `magnet`: `Magnet::parse` on arbitrary text.
//!
//! Nothing may panic; errors start with `invalid magnet link: `; a link that parses prints as
//! a link that parses back to the same value, and printing that again gives the same text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_metainfo::Magnet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Also try it as the query alone, so the fuzzer need not discover the prefix.
    for uri in [text.to_owned(), format!("magnet:?{text}")] {
        match Magnet::parse(&uri) {
            Ok(m) => {
                let printed = m.to_string();
                let again = Magnet::parse(&printed)
                    .unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
                assert_eq!(again, m, "round trip through {printed:?}");
                assert_eq!(again.to_string(), printed);
            }
            Err(e) => assert!(e.to_string().starts_with("invalid magnet link: "), "{e}"),
        }
    }
});
