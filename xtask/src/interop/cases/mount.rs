//! Case `libtorrent-seed-bt-mount`: `bt mount` of a directory holding a .torrent of a 256 MiB
//! file and a .magnet of a small one, both seeded by libtorrent capped at 4 MiB/s. The big file
//! shows at its size at once and the small one once its metadata is fetched; a 1 MiB read in the
//! middle of the big file completes before 10 % of it is downloaded (counted from the blocks the
//! data file holds on disk); the small file compares equal to the original; SIGINT leaves no
//! mount behind (`findmnt`).

use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

use super::peer_clients::libtorrent_with;
use super::stream::{Big, BIG_LEN, SEED_RATE};
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::process::POLL;
use crate::interop::python::CREATE_TORRENT;
use crate::interop::{data, packages};

pub(super) const CASE: Case = Case {
    name: "libtorrent-seed-bt-mount",
    about: "bt mount (FUSE) of a .torrent and a .magnet seeded by libtorrent at 4 MiB/s: sizes, a middle read on demand, cmp, clean unmount, a dead mount cleared",
    timeout: Duration::from_secs(120),
    run,
};

const SMALL_LEN: u64 = 3 * 1024 * 1024 + 777;
const MIB: u64 = 1 << 20;

/// Waits until `path` exists with `len` bytes.
fn wait_size(path: &std::path::Path, len: u64, deadline: Instant) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if let Ok(m) = std::fs::metadata(path) {
            ensure!(
                m.len() == len,
                "{} is {} bytes, not {len}",
                path.display(),
                m.len()
            );
            return Ok(started.elapsed());
        }
        if Instant::now() >= deadline {
            bail!("{} did not appear in the mount", path.display());
        }
        std::thread::sleep(POLL);
    }
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("fusermount3", "fuse3"), ("findmnt", "util-linux")])?;
    ensure!(
        std::path::Path::new("/dev/fuse").exists(),
        "/dev/fuse does not exist: this case needs FUSE"
    );
    let big = Big::start(ctx, false)?;
    // The small torrent, seeded by a second libtorrent, reached through a magnet link.
    let small_dir = ctx.path("small");
    data::write_file(&small_dir.join("small.bin"), SMALL_LEN, 23)?;
    let small_torrent = ctx.path("small.torrent");
    let tracker = big.tracker_url();
    CREATE_TORRENT.run(
        ctx,
        "create-small",
        [
            "--piece-size".as_ref(),
            "65536".as_ref(),
            "--tracker".as_ref(),
            tracker.as_ref(),
            "--v1-only".as_ref(),
            small_dir.join("small.bin").as_os_str(),
            small_torrent.as_os_str(),
        ],
    )?;
    let rate = SEED_RATE.to_string();
    let _small_seed = libtorrent_with(
        ctx,
        "lt-seed-small",
        &[&small_torrent],
        &small_dir,
        true,
        &["--upload-rate", &rate],
    )?;
    let link = ctx
        .spawn("bt-magnet", ctx.bt()?)
        .arg("magnet")
        .arg(&small_torrent)
        .run(ctx.deadline())?;
    let meta = ctx.path("meta");
    std::fs::create_dir_all(&meta)?;
    std::fs::copy(&big.torrent, meta.join("big.torrent"))?;
    std::fs::write(meta.join("small.magnet"), &link)?;
    let mnt = ctx.path("mnt");
    let dl = ctx.path("dl");
    std::fs::create_dir_all(&mnt)?;
    let mut bt = ctx
        .spawn("bt-mount", ctx.bt()?)
        .arg("mount")
        .arg(&meta)
        .arg(&mnt)
        .arg("--download-dir")
        .arg(&dl)
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .start()?;
    bt.wait_for_line("mounted", ctx.deadline())?;

    // Sizes: the .torrent's file at once, the magnet's after its metadata.
    let big_path = mnt.join("big.bin");
    let t = wait_size(&big_path, BIG_LEN, ctx.deadline_in(Duration::from_secs(5)))?;
    ctx.note(format!(
        "big.bin listed at 256 MiB {:.2} s after the mount",
        t.as_secs_f64()
    ));
    let small_path = mnt.join("small.bin");
    let t = wait_size(
        &small_path,
        SMALL_LEN,
        ctx.deadline_in(Duration::from_secs(40)),
    )?;
    ctx.note(format!(
        "the magnet's small.bin listed {:.2} s later",
        t.as_secs_f64()
    ));
    let listing = ctx
        .spawn("ls", "ls")
        .args(["-lR"])
        .arg(&mnt)
        .run(ctx.deadline())?;
    let listing = String::from_utf8_lossy(&listing);
    for want in [BIG_LEN.to_string(), SMALL_LEN.to_string()] {
        ensure!(
            listing.contains(&want),
            "ls -l shows no file of {want} bytes:\n{listing}"
        );
    }

    // 1 MiB in the middle of the big file, on demand.
    let original = std::fs::read(big.data.join("big.bin"))?;
    let at = BIG_LEN / 2;
    let started = Instant::now();
    let mut f = std::fs::File::open(&big_path)?;
    f.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; MIB as usize];
    f.read_exact(&mut buf)
        .context("reading 1 MiB in the middle")?;
    let took = started.elapsed();
    drop(f);
    ensure!(
        buf == original[at as usize..(at + MIB) as usize],
        "the middle 1 MiB differs"
    );
    let on_disk = std::fs::metadata(dl.join("big.bin"))
        .map(|m| m.blocks() * 512)
        .unwrap_or(0);
    ensure!(
        on_disk < BIG_LEN / 10,
        "{on_disk} bytes of big.bin were downloaded for a 1 MiB read (10 % is {})",
        BIG_LEN / 10
    );
    ctx.note(format!(
        "1 MiB in the middle of 256 MiB read in {:.2} s with {:.1} MiB on disk ({:.1} %)",
        took.as_secs_f64(),
        on_disk as f64 / MIB as f64,
        on_disk as f64 * 100.0 / BIG_LEN as f64
    ));

    // cmp of the magnet's file against the original.
    ctx.spawn("cmp", "cmp")
        .arg(&small_path)
        .arg(small_dir.join("small.bin"))
        .run(ctx.deadline())
        .context("cmp of the mounted small.bin against the original")?;

    bt.signal("INT")?;
    let status = bt.wait_exit(ctx.deadline())?;
    ensure!(
        status.success(),
        "bt mount exited {status}{}",
        bt.stderr_tail()
    );
    let out = std::process::Command::new("findmnt")
        .arg(&mnt)
        .output()
        .context("running findmnt")?;
    ensure!(
        !out.status.success(),
        "a mount is left behind: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    mount_after_sigkill(ctx, &meta, &mnt, &dl, &big_path)
}

/// `bt mount` killed with SIGKILL leaves a dead FUSE mount; a new `bt mount` on the same point
/// clears it and serves again.
fn mount_after_sigkill(
    ctx: &Ctx,
    meta: &std::path::Path,
    mnt: &std::path::Path,
    dl: &std::path::Path,
    big_path: &std::path::Path,
) -> anyhow::Result<()> {
    let mount = |name: &str| -> anyhow::Result<crate::interop::process::Managed> {
        let mut bt = ctx
            .spawn(name, ctx.bt()?)
            .arg("mount")
            .arg(meta)
            .arg(mnt)
            .arg("--download-dir")
            .arg(dl)
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .start()?;
        bt.wait_for_line("mounted", ctx.deadline())?;
        Ok(bt)
    };
    let killed = mount("bt-mount-killed")?;
    wait_size(big_path, BIG_LEN, ctx.deadline_in(Duration::from_secs(5)))?;
    killed.signal("KILL")?;
    drop(killed);
    // What a dead FUSE mount answers: ENOTCONN, or ECONNABORTED once the kernel aborted it.
    let dead = |e: &std::io::Error| matches!(e.raw_os_error(), Some(107 | 103));
    let deadline = ctx.deadline_in(Duration::from_secs(10));
    let answer = loop {
        match std::fs::metadata(mnt) {
            Err(e) if dead(&e) => break e,
            other if Instant::now() >= deadline => {
                bail!(
                    "after SIGKILL the mount point still answers {other:?}: no dead mount to clear"
                )
            }
            _ => std::thread::sleep(POLL),
        }
    };
    ctx.note(format!("after SIGKILL the mount point answers {answer}"));
    let mut again = mount("bt-mount-again")?;
    wait_size(big_path, BIG_LEN, ctx.deadline_in(Duration::from_secs(5)))?;
    ensure!(
        String::from_utf8_lossy(&again.stderr()?).contains("dead bt mount"),
        "the second bt mount did not say it cleared the dead mount{}",
        again.stderr_tail()
    );
    ctx.note("a new bt mount cleared the dead mount and lists big.bin again");
    again.signal("INT")?;
    let status = again.wait_exit(ctx.deadline())?;
    ensure!(
        status.success(),
        "bt mount exited {status}{}",
        again.stderr_tail()
    );
    Ok(())
}
