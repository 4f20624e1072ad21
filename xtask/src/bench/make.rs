//! `cargo xtask bench make`: `bt make` on a 2 GiB file in the page cache, against mktorrent and
//! the machine's SHA-1 limit (`openssl speed -evp sha1 -bytes 1048576 -multi $(nproc)`), all in
//! one run. Targets: at least 85% of the openssl limit and 1.3 times mktorrent's rate.
//!
//! `bt make` and mktorrent run three times each, alternating, with the same piece length
//! (1 MiB, 2048 pieces); each one's best run counts, since the machine may be shared. The two
//! torrents must have the same info-hash.
//!
//! Then BitTorrent v2: `bt make --v2` against libtorrent's `create_torrent` (v2 only, through
//! `set_piece_hashes`) on the same file and piece length, three runs each alternating, best
//! counted; target 1.5 times libtorrent's rate, and the same v2 info-hash.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::bench::{load_average, verdict, Outcome};
use crate::interop::{bt, data, packages};

const SIZE: u64 = 2 << 30;
const RUNS: usize = 3;
const TARGET_OF_LIMIT: f64 = 0.85;
const TARGET_OVER_MKTORRENT: f64 = 1.3;
const TARGET_V2_OVER_LIBTORRENT: f64 = 1.5;

/// libtorrent making a v2-only torrent of `argv[1]` with 1 MiB pieces into `argv[2]`; prints
/// the v2 info-hash.
const LT_MAKE_V2: &str = "import os, sys, libtorrent as lt\n\
fs = lt.file_storage()\n\
lt.add_files(fs, sys.argv[1])\n\
t = lt.create_torrent(fs, 1 << 20, flags=lt.create_torrent.v2_only)\n\
lt.set_piece_hashes(t, os.path.dirname(os.path.abspath(sys.argv[1])))\n\
open(sys.argv[2], 'wb').write(lt.bencode(t.generate()))\n\
print(lt.torrent_info(sys.argv[2]).info_hashes().v2)\n";

pub(super) fn run(root: &Path, _passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("mktorrent", "mktorrent"), ("openssl", "openssl")])?;
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("make");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join("data-2GiB.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(SIZE) {
        println!("bench make: writing {} (2 GiB, once)", file.display());
        data::write_file(&file, SIZE, 42)?;
    }
    warm_cache(&file)?;

    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("bench make: openssl speed -evp sha1 -bytes 1048576 -multi {cpus}");
    let limit = openssl_limit(cpus)?;

    let bt_out = dir.join("bt.torrent");
    let mk_out = dir.join("mktorrent.torrent");
    let (mut bt_best, mut mk_best) = (f64::INFINITY, f64::INFINITY);
    let (mut bt_cpu, mut mk_cpu) = (f64::INFINITY, f64::INFINITY);
    for run in 1..=RUNS {
        println!("bench make: run {run} of {RUNS}: bt make, mktorrent");
        let _ = std::fs::remove_file(&bt_out);
        let (wall, cpu) = timed(
            Command::new(bt)
                .args([
                    "make",
                    "--no-date",
                    "-l",
                    "1M",
                    "-t",
                    "http://127.0.0.1:1/announce",
                    "-o",
                ])
                .arg(&bt_out)
                .arg(&file),
        )?;
        bt_best = bt_best.min(wall);
        bt_cpu = bt_cpu.min(cpu);
        let _ = std::fs::remove_file(&mk_out);
        let (wall, cpu) = timed(
            Command::new("mktorrent")
                .args(["-l", "20", "-a", "http://127.0.0.1:1/announce", "-o"])
                .arg(&mk_out)
                .arg(&file),
        )?;
        mk_best = mk_best.min(wall);
        mk_cpu = mk_cpu.min(cpu);
    }
    let same_hash = info_hash(bt, &bt_out)? == info_hash(bt, &mk_out)?;

    let rate = |secs: f64| SIZE as f64 / secs / 1e6;
    let (bt_rate, mk_rate) = (rate(bt_best), rate(mk_best));
    let of_limit = bt_rate / limit;
    let over_mk = bt_rate / mk_rate;
    let mut failures = Vec::new();
    if of_limit < TARGET_OF_LIMIT {
        failures.push(format!(
            "bt make at {:.0}% of the openssl SHA-1 limit, target {:.0}%",
            of_limit * 100.0,
            TARGET_OF_LIMIT * 100.0
        ));
    }
    if over_mk < TARGET_OVER_MKTORRENT {
        failures.push(format!(
            "bt make at {over_mk:.2}x mktorrent, target {TARGET_OVER_MKTORRENT}x"
        ));
    }
    if !same_hash {
        failures.push("bt make and mktorrent gave different info-hashes".to_owned());
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## bench make: hashing a 2 GiB cached file ({cpus} CPUs)\n"
    );
    let _ = writeln!(
        md,
        "| what | time (best of {RUNS}) | rate | CPU time (best) | ratio | target | |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|");
    let _ = writeln!(
        md,
        "| openssl speed -evp sha1 -multi {cpus} (limit) | | {limit:.0} MB/s | | | | |"
    );
    let _ = writeln!(
        md,
        "| mktorrent -l 20 | {mk_best:.2} s | {mk_rate:.0} MB/s | {mk_cpu:.2} s | | | |"
    );
    let _ = writeln!(
        md,
        "| bt make -l 1M vs limit | {bt_best:.2} s | {bt_rate:.0} MB/s | {bt_cpu:.2} s | {:.0}% | {:.0}% | {} |",
        of_limit * 100.0,
        TARGET_OF_LIMIT * 100.0,
        verdict(of_limit >= TARGET_OF_LIMIT)
    );
    let _ = writeln!(
        md,
        "| bt make -l 1M vs mktorrent | | | | {over_mk:.2}x | {TARGET_OVER_MKTORRENT}x | {} |",
        verdict(over_mk >= TARGET_OVER_MKTORRENT)
    );
    let _ = writeln!(
        md,
        "\nSame info-hash from bt make and mktorrent: {}. MB = 10^6 bytes. CPU time is user + \
         system over all threads; unlike wall time it does not depend on what else the machine \
         runs (load average at the end: {}).",
        if same_hash { "yes" } else { "NO" },
        load_average()
    );
    let (v2_md, v2_failures) = v2_rows(bt, &file, &dir)?;
    md.push_str(&v2_md);
    failures.extend(v2_failures);
    Ok(Outcome {
        markdown: md,
        failures,
    })
}

/// `bt make --v2` against libtorrent's `create_torrent` v2: the rows and any failures.
fn v2_rows(bt: &Path, file: &Path, dir: &Path) -> anyhow::Result<(String, Vec<String>)> {
    crate::interop::python::require_libtorrent()?;
    let bt_out = dir.join("bt-v2.torrent");
    let lt_out = dir.join("libtorrent-v2.torrent");
    let (mut bt_best, mut lt_best) = (f64::INFINITY, f64::INFINITY);
    let (mut bt_cpu, mut lt_cpu) = (f64::INFINITY, f64::INFINITY);
    for run in 1..=RUNS {
        println!("bench make: v2 run {run} of {RUNS}: bt make --v2, libtorrent create_torrent");
        let _ = std::fs::remove_file(&bt_out);
        let (wall, cpu) = timed(
            Command::new(bt)
                .args(["make", "--v2", "--no-date", "-l", "1M", "-o"])
                .arg(&bt_out)
                .arg(file),
        )?;
        bt_best = bt_best.min(wall);
        bt_cpu = bt_cpu.min(cpu);
        let _ = std::fs::remove_file(&lt_out);
        let (wall, cpu) = timed(
            Command::new(crate::interop::python::PYTHON)
                .args(["-c", LT_MAKE_V2])
                .arg(file)
                .arg(&lt_out),
        )?;
        lt_best = lt_best.min(wall);
        lt_cpu = lt_cpu.min(cpu);
    }
    let v2_hash = |t: &Path| -> anyhow::Result<String> {
        let out = Command::new(bt).args(["show", "--json"]).arg(t).output()?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("bt show --json {}", t.display()))?;
        Ok(json["info_hash_v2"].as_str().unwrap_or_default().to_owned())
    };
    let same_hash = v2_hash(&bt_out)? == v2_hash(&lt_out)?;
    let rate = |secs: f64| SIZE as f64 / secs / 1e6;
    let over_lt = lt_best / bt_best;
    let mut failures = Vec::new();
    if over_lt < TARGET_V2_OVER_LIBTORRENT {
        failures.push(format!(
            "bt make --v2 at {over_lt:.2}x libtorrent's create_torrent, target {TARGET_V2_OVER_LIBTORRENT}x"
        ));
    }
    if !same_hash {
        failures.push("bt make --v2 and libtorrent gave different v2 info-hashes".to_owned());
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "\n### BitTorrent v2 (SHA-256 Merkle trees, 1 MiB pieces)\n"
    );
    let _ = writeln!(
        md,
        "| what | time (best of {RUNS}) | rate | CPU time (best) | ratio | target | |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---|");
    let _ = writeln!(
        md,
        "| libtorrent create_torrent v2 | {lt_best:.2} s | {:.0} MB/s | {lt_cpu:.2} s | | | |",
        rate(lt_best)
    );
    let _ = writeln!(
        md,
        "| bt make --v2 -l 1M | {bt_best:.2} s | {:.0} MB/s | {bt_cpu:.2} s | {over_lt:.2}x | {TARGET_V2_OVER_LIBTORRENT}x | {} |",
        rate(bt_best),
        verdict(over_lt >= TARGET_V2_OVER_LIBTORRENT)
    );
    let _ = writeln!(
        md,
        "\nSame v2 info-hash from bt make --v2 and libtorrent: {}.",
        if same_hash { "yes" } else { "NO" }
    );
    Ok((md, failures))
}

/// Reads the file once so every run hashes from the page cache.
fn warm_cache(file: &Path) -> anyhow::Result<()> {
    let mut f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    while f
        .read(&mut buf)
        .with_context(|| format!("reading {}", file.display()))?
        > 0
    {}
    Ok(())
}

/// The machine's SHA-1 rate in MB/s over all CPUs, as openssl measures it.
fn openssl_limit(cpus: usize) -> anyhow::Result<f64> {
    let out = Command::new("openssl")
        .args(["speed", "-evp", "sha1", "-bytes", "1048576", "-multi"])
        .arg(cpus.to_string())
        .stdin(Stdio::null())
        .output()
        .context("running openssl speed")?;
    if !out.status.success() {
        bail!(
            "openssl speed failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // The last line reads `sha1   1144552.64k`: thousands of bytes per second.
    let kbytes = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("sha1"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.trim_end_matches('k').parse::<f64>().ok())
        .with_context(|| format!("no `sha1 ...k` line in openssl's output:\n{text}"))?;
    Ok(kbytes * 1000.0 / 1e6)
}

/// Runs the command with its output discarded; its wall-clock time and CPU time (user + system,
/// from the kernel's count for waited-for children) in seconds.
fn timed(cmd: &mut Command) -> anyhow::Result<(f64, f64)> {
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((secs, children_cpu_seconds() - cpu_before))
}

/// User plus system time of this process's waited-for children, from `/proc/self/stat`
/// (`cutime` and `cstime`, in clock ticks of 1/100 s); 0 where that file is unavailable.
fn children_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the `(comm)` start at field 3; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(13) + tick(14)) / 100.0
}

/// `bt show --json`'s info-hash.
fn info_hash(bt: &Path, torrent: &PathBuf) -> anyhow::Result<String> {
    let out = Command::new(bt)
        .args(["show", "--json"])
        .arg(torrent)
        .output()
        .context("running bt show")?;
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("bt show printed invalid JSON")?;
    json["info_hash"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no info_hash for {}", torrent.display()))
}
