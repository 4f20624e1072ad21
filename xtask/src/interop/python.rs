//! libtorrent snippets: python files under `py/`, compiled into xtask, written into the case
//! directory and run with `/usr/bin/python3` (the only python that imports Debian's libtorrent).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{bail, Context as _};

use super::context::Ctx;
use super::packages;
use super::process::{Managed, Spawn};

/// The interpreter, always this one: the first `python3` on PATH may lack libtorrent.
pub(crate) const PYTHON: &str = "/usr/bin/python3";

/// A python file from `py/`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snippet {
    pub(crate) file: &'static str,
    pub(crate) source: &'static str,
}

/// Modules the snippets import, written next to every snippet.
const SHARED: &[Snippet] = &[LT_SESSION];

/// `from lt_session import loopback_session`: a session fit for loopback.
pub(crate) const LT_SESSION: Snippet = Snippet {
    file: "lt_session.py",
    source: include_str!("py/lt_session.py"),
};

/// `bdecode_json.py IN OUT...`: libtorrent's decoding of each file, as `bt decode` JSON.
pub(crate) const BDECODE_JSON: Snippet = Snippet {
    file: "bdecode_json.py",
    source: include_str!("py/bdecode_json.py"),
};

/// `create_torrent.py [--piece-size N] [--tracker URL] [--comment C] [--v1-only | --v2-only]
/// [--both] SRC OUT`: prints the v1 info-hash (with `--both`, the v1 and the v2 one).
pub(crate) const CREATE_TORRENT: Snippet = Snippet {
    file: "create_torrent.py",
    source: include_str!("py/create_torrent.py"),
};

/// A v1 torrent of `source` made by libtorrent with 64 KiB pieces and one tracker, written to
/// `torrent`; returns its info-hash as libtorrent computed it.
pub(crate) fn libtorrent_v1_torrent(
    ctx: &Ctx,
    source: &Path,
    tracker: &str,
    torrent: &Path,
) -> anyhow::Result<[u8; 20]> {
    let out = CREATE_TORRENT.run(
        ctx,
        "create-torrent",
        [
            "--piece-size".as_ref(),
            "65536".as_ref(),
            "--tracker".as_ref(),
            tracker.as_ref(),
            "--v1-only".as_ref(),
            source.as_os_str(),
            torrent.as_os_str(),
        ],
    )?;
    crate::interop::hex::decode20(out.trim()).context("create_torrent.py output")
}

/// `check_data.py SAVE_PATH TORRENT...`: libtorrent loads each torrent and checks its data; one
/// line each: `V2 NAME HASH HAVE NUM_PIECES NUM_FILES TOTAL_SIZE` (V2 `-` for v1 torrents).
pub(crate) const CHECK_DATA: Snippet = Snippet {
    file: "check_data.py",
    source: include_str!("py/check_data.py"),
};

/// `lt_paths.py TORRENT...`: a JSON object of the file paths (and pad flags) libtorrent gives
/// each torrent it loads, keyed by file name.
pub(crate) const LT_PATHS: Snippet = Snippet {
    file: "lt_paths.py",
    source: include_str!("py/lt_paths.py"),
};

/// `lt_dht.py node|seed|get ...`: libtorrent with the DHT on, on loopback (the DHT cases and
/// `cargo xtask bench dht`).
pub(crate) const LT_DHT: Snippet = Snippet {
    file: "lt_dht.py",
    source: include_str!("py/lt_dht.py"),
};

/// `infohash.py TORRENT...`: one v1 info-hash in hex per line.
pub(crate) const INFOHASH: Snippet = Snippet {
    file: "infohash.py",
    source: include_str!("py/infohash.py"),
};

impl Snippet {
    /// Writes the snippet (and the shared modules) into `ctx.path("py")`; returns its path.
    pub(crate) fn write(&self, ctx: &Ctx) -> anyhow::Result<PathBuf> {
        let dir = ctx.path("py");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for snippet in SHARED.iter().chain([self]) {
            let path = dir.join(snippet.file);
            std::fs::write(&path, snippet.source)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(dir.join(self.file))
    }

    /// The snippet as a process not yet started (logs named `name`), so arguments, environment
    /// or the working directory can still be added.
    pub(crate) fn command(&self, ctx: &Ctx, name: &str) -> anyhow::Result<Spawn> {
        require_libtorrent()?;
        let script = self.write(ctx)?;
        Ok(ctx.spawn(name, PYTHON).arg("-u").arg(script))
    }

    /// Starts the snippet in the background, e.g. a seed that prints a line when ready.
    pub(crate) fn spawn<I, S>(&self, ctx: &Ctx, name: &str, args: I) -> anyhow::Result<Managed>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command(ctx, name)?.args(args).start()
    }

    /// Runs the snippet to its end (by the case deadline); returns its standard output as text.
    pub(crate) fn run<I, S>(&self, ctx: &Ctx, name: &str, args: I) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.command(ctx, name)?.args(args).run(ctx.deadline())?;
        String::from_utf8(out).with_context(|| format!("{} printed non-UTF-8 output", self.file))
    }
}

static LIBTORRENT: OnceLock<Result<(), String>> = OnceLock::new();

/// Makes sure `/usr/bin/python3` imports `libtorrent`, installing `python3-libtorrent` as root;
/// checked once per run.
pub(crate) fn require_libtorrent() -> anyhow::Result<()> {
    LIBTORRENT
        .get_or_init(|| check_libtorrent().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn check_libtorrent() -> anyhow::Result<()> {
    let imports = || {
        Command::new(PYTHON)
            .args(["-c", "import libtorrent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if imports() {
        return Ok(());
    }
    packages::install(&["python3-libtorrent"])
        .context("python3-libtorrent is needed for the libtorrent snippets")?;
    if !imports() {
        bail!("{PYTHON} still cannot import libtorrent after installing python3-libtorrent");
    }
    Ok(())
}
