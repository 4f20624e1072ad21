//! `--tui` without a terminal: one note saying so, then the plain status lines and summary as
//! without the flag. (The view itself is tested in a real terminal by `cargo xtask interop tui`.)

use torrentkit_metainfo::TorrentBuilder;

use crate::util::{Running as Bt, Scratch};

const NOTE: &str = "bt: --tui needs a terminal; showing plain status lines";

#[test]
fn tui_without_a_terminal_notes_it_once_and_keeps_plain_output() {
    let dir = Scratch::new("tui-no-terminal");
    let original: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let src = dir.write("notes.bin", &original);
    let torrent = dir.path().join("notes.torrent");
    let t = TorrentBuilder::new(&src)
        .piece_length(16 * 1024)
        .build()
        .unwrap();
    std::fs::write(&torrent, t.to_bytes()).unwrap();
    let (torrent, src) = (torrent.to_str().unwrap(), src.to_str().unwrap());
    let net = ["--port", "0", "--bind", "127.0.0.1", "--tui"];

    let mut seed = Bt::spawn(&[&["seed", torrent, src][..], &net].concat());
    let port = seed.port();
    let out = dir.path().join("out");
    let peer = format!("127.0.0.1:{port}");
    let args = [
        &["download", torrent, "--output", out.to_str().unwrap()][..],
        &[
            "--peer",
            &peer,
            "--seed-time",
            "0",
            "--json",
            "--status-interval",
            "0.1",
        ],
        &net,
    ]
    .concat();
    let (status, stdout, stderr) = Bt::spawn(&args).finish(60);
    assert!(status.success(), "download failed:\n{stderr}");
    assert_eq!(std::fs::read(out.join("notes.bin")).unwrap(), original);
    // The note once, first; then what bt download prints without --tui.
    assert_eq!(stderr.matches(NOTE).count(), 1, "{stderr}");
    assert!(stderr.starts_with(NOTE), "{stderr}");
    assert!(
        stderr.contains("listening for peers on 127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(": complete (complete), ")),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["complete"], true, "{stdout}");
    // No escape sequence of the alternate screen or raw mode reached the output.
    assert!(
        !stderr.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "{stderr}"
    );

    seed.signal("TERM");
    let (status, _, stderr) = seed.finish(30);
    assert!(status.success(), "seed exit {status:?}:\n{stderr}");
    // bt seed checks its data before the view would start.
    assert_eq!(stderr.matches(NOTE).count(), 1, "{stderr}");
    assert!(stderr.contains("seeding 100.0% 19/19 pieces"), "{stderr}");
}
