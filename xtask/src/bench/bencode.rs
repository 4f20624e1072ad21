//! `cargo xtask bench bencode`: torrentkit-bencode against serde_bencode, bendy, bt_bencode and
//! librqbit-bencode (`bench/benches/bencode.rs`), one row per document and operation.

use std::path::Path;

use crate::bench::criterion;
use crate::bench::table::{Row, Table};
use crate::bench::Outcome;

/// The criterion group prefixes, in table order.
const DOCUMENTS: [&str; 3] = ["torrent_20mb", "torrent_20kb", "tracker_reply"];
/// The criterion group suffixes, in table order.
const OPERATIONS: [&str; 5] = [
    "tree",
    "serde_borrowed",
    "serde_owned",
    "encode",
    "encode_tree",
];
/// The criterion function names of the comparison crates.
const OTHERS: [&str; 4] = ["serde_bencode", "bendy", "bt_bencode", "librqbit"];

/// The speed ratio torrentkit must reach over the fastest other crate.
fn target(document: &str, operation: &str) -> f64 {
    match (document, operation) {
        // Structure parsing, where a zero-copy decoder should clearly win.
        ("torrent_20kb", "tree" | "serde_borrowed" | "serde_owned") => 1.5,
        // Writing 20 MB once instead of buffering and copying it per nesting level.
        ("torrent_20mb", "encode" | "encode_tree") => 3.0,
        _ => 1.0,
    }
}

const ABOUT: &str = "\
Documents, generated deterministically and encoded canonically by torrentkit:
`torrent_20mb` is a 10,000-file torrent with a 20 MB `pieces` string; `torrent_20kb` is the same
with a 20 KB `pieces` string (structure parsing dominates); `tracker_reply` is an announce reply with
200 peers in dictionary form. Operations: `tree` decodes into the crate's own value tree (borrowed
where the crate borrows; bendy's lazy decoder is walked to every leaf, integers parsed, building
nothing); `serde_borrowed` and `serde_owned` deserialize into the same structs with `&[u8]`/`&str`
or `ByteBuf`/`String` fields; `encode` serializes the owned struct; `encode_tree` writes the
crate's value tree. Times are criterion's mean per operation. The ratio is the fastest other
crate's time divided by torrentkit's (above 1: torrentkit is faster).";

pub(crate) fn run(root: &Path, passthrough: &[String]) -> anyhow::Result<Outcome> {
    let run = criterion::run(root, "bencode", passthrough)?;
    let mut table = Table::new(vec!["document", "operation"], OTHERS.to_vec());
    for document in DOCUMENTS {
        for operation in OPERATIONS {
            let group = format!("{document}/{operation}");
            let ours = run.estimate(&group, "torrentkit")?;
            let others = OTHERS
                .iter()
                .map(|other| run.estimate(&group, other))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let filtered_out = ours.is_none() && others.iter().all(Option::is_none);
            if filtered_out && !passthrough.is_empty() {
                // The arguments given to criterion (a filter) left this row out on purpose.
                continue;
            }
            table.push(Row {
                labels: vec![document.into(), operation.into()],
                ours,
                others,
                target: target(document, operation),
            });
        }
    }

    let mut markdown = String::from("## bencode: torrentkit-bencode against other crates\n\n");
    markdown.push_str(ABOUT);
    markdown.push_str("\n\n");
    for note in &run.notes {
        markdown.push_str(&format!("{note}.\n\n"));
    }
    markdown.push_str(&table.markdown());
    if !run.skipped.is_empty() {
        markdown.push_str("\nNot measured, for want of an API (`—` above):\n\n");
        for note in &run.skipped {
            markdown.push_str(&format!("- {note}\n"));
        }
    }
    Ok(Outcome {
        markdown,
        failures: table.failures(),
    })
}
