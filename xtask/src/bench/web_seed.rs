//! `cargo xtask bench web-seed`: 256 MiB from nginx on loopback as a BEP 19 web seed (the
//! torrent's only source), `bt download` against `aria2c` downloading the same torrent from the
//! same nginx, in the same run, alternating, best of three each. Target: bt at least 1.0x
//! aria2c's throughput.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context as _};

use super::transfer::{check_and_remove, timed_download};
use crate::bench::{load_average, verdict, Outcome};
use crate::interop::{bt, data, net, packages};

const SIZE: u64 = 256 << 20;
const RUNS: usize = 3;
const TARGET_SPEEDUP: f64 = 1.0;
const TIME: &str = "/usr/bin/time";
const NGINX: &str = "/usr/sbin/nginx";

/// nginx on a free loopback port serving `root`; killed by PID when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, root: &Path) -> anyhow::Result<Nginx> {
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(prefix.join("tmp"))?;
        let port = net::free_port()?;
        let p = prefix.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; sendfile on; types {{ }} default_type application/octet-stream;\n\
             client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp;\n\
             uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;\n\
             server {{ listen 127.0.0.1:{port}; root {}; }} }}\n",
            root.display()
        );
        std::fs::write(prefix.join("nginx.conf"), conf)?;
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(prefix.join("nginx.conf"))
            .stdin(Stdio::null())
            .spawn()
            .context("starting nginx")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        net::wait_for_tcp(net::loopback(port), deadline).context("nginx did not listen")?;
        Ok(Nginx { child, port })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn run(root: &Path, _passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("time", "time"), (NGINX, "nginx"), ("aria2c", "aria2")])?;
    if !Path::new(TIME).is_file() {
        bail!("{TIME} is missing: install the Debian package `time`");
    }
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("web-seed");
    let www = dir.join("www");
    std::fs::create_dir_all(&www)?;
    let file = www.join("data-256MiB.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(SIZE) {
        data::write_file(&file, SIZE, 256)?;
    }
    let nginx = Nginx::start(&dir, &www)?;
    let url = format!("http://127.0.0.1:{}/data-256MiB.bin", nginx.port);
    let torrent = dir.join("web-seed.torrent");
    let made = Command::new(bt)
        .arg("make")
        .arg(&file)
        .arg("-o")
        .arg(&torrent)
        .args(["--force", "-l", "1M", "-w", &url])
        .output()?;
    if !made.status.success() {
        bail!("bt make failed: {}", String::from_utf8_lossy(&made.stderr));
    }
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..RUNS {
        let out = dir.join("bt-copy");
        let args: Vec<&std::ffi::OsStr> = vec![
            bt.as_os_str(),
            "download".as_ref(),
            torrent.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
            "--bind".as_ref(),
            "127.0.0.1".as_ref(),
            "--seed-time".as_ref(),
            "0".as_ref(),
        ];
        let (wall, _, _) = timed_download(&args, &dir)?;
        check_and_remove(&file, &out, &out.join("data-256MiB.bin"))?;
        ours = ours.min(wall);

        let out = dir.join("aria2-copy");
        let dir_arg = format!("--dir={}", out.display());
        let args: Vec<&std::ffi::OsStr> = vec![
            "aria2c".as_ref(),
            dir_arg.as_ref(),
            "--seed-time=0".as_ref(),
            "--enable-dht=false".as_ref(),
            "--enable-dht6=false".as_ref(),
            "--bt-enable-lpd=false".as_ref(),
            "--enable-peer-exchange=false".as_ref(),
            "--file-allocation=none".as_ref(),
            "--summary-interval=0".as_ref(),
            "--console-log-level=warn".as_ref(),
            torrent.as_os_str(),
        ];
        let (wall, _, _) = timed_download(&args, &dir)?;
        check_and_remove(&file, &out, &out.join("data-256MiB.bin"))?;
        theirs = theirs.min(wall);
    }
    drop(nginx);
    let rate = |wall: f64| SIZE as f64 / wall / 1e6;
    let speedup = theirs / ours;
    let mut failures = Vec::new();
    if speedup < TARGET_SPEEDUP {
        failures.push(format!(
            "bt at {speedup:.2}x aria2c's web-seed throughput, target {TARGET_SPEEDUP}x"
        ));
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## bench web-seed: 256 MiB from nginx on loopback, the web seed the only source (best of {RUNS})\n"
    );
    let _ = writeln!(md, "| downloader | time | rate |\n|---|---:|---:|");
    let _ = writeln!(md, "| bt download | {ours:.2} s | {:.0} MB/s |", rate(ours));
    let _ = writeln!(md, "| aria2c | {theirs:.2} s | {:.0} MB/s |", rate(theirs));
    let _ = writeln!(md, "\n| target | measured | |\n|---|---:|---|");
    let _ = writeln!(
        md,
        "| throughput >= {TARGET_SPEEDUP}x aria2c | {speedup:.2}x | {} |",
        verdict(speedup >= TARGET_SPEEDUP)
    );
    let _ = writeln!(
        md,
        "\nMB = 10^6 bytes. Time is from starting the downloader to its exit (bt includes its \
         fsync of the data). Load average at the end: {}.",
        load_average()
    );
    Ok(Outcome {
        markdown: md,
        failures,
    })
}
