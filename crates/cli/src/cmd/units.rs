//! Byte sizes and rates on the command line (`64MiB`, `500K`, `2M`, `1048576`) and their display,
//! and the time left of a transfer.

use torrentkit_peer::session::Progress;

/// Parses a size: a number with an optional unit `K`, `M`, `G`, `T` (powers of 1024, with or
/// without `iB`/`B`); `kB`/`MB`/`GB` are powers of 1000. Clap value parser.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 4MiB, 500K, 1048576)"))?;
    let multiplier: f64 = match unit.trim() {
        "" | "B" | "b" => 1.0,
        "K" | "k" | "KiB" | "Ki" | "KB" => 1024.0,
        "M" | "m" | "MiB" | "Mi" => 1024.0 * 1024.0,
        "G" | "g" | "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
        "T" | "t" | "TiB" | "Ti" => 1024.0f64.powi(4),
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use K, M, G, KiB, MiB, GiB, kB, MB or GB)"
            ))
        }
    };
    let bytes = value * multiplier;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a rate in bytes per second like [`parse_size`]; `0` means unlimited (`None`).
pub(crate) fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let t = t
        .strip_suffix("/s")
        .or_else(|| t.strip_suffix("ps"))
        .unwrap_or(t);
    parse_size(t)
}

/// A rate for display: `12.3 MiB/s`.
pub(crate) fn human_rate(bytes_per_sec: f64) -> String {
    format!(
        "{}/s",
        super::torrent_common::human_size(bytes_per_sec.max(0.0) as u64)
    )
}

/// A duration for display: `45s`, `3m07s`, `2h05m`.
pub(crate) fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The time left of a transfer for display: `done` once complete, `-` while not downloading.
pub(crate) fn eta(p: &Progress) -> String {
    if p.complete {
        return "done".to_owned();
    }
    p.eta()
        .map_or_else(|| "-".to_owned(), |d| human_duration(d.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_texts() {
        let mut p = Progress {
            total: 1000,
            bytes_left: 500,
            download_rate: 100,
            ..Progress::default()
        };
        assert_eq!(eta(&p), "5s");
        p.download_rate = 0;
        assert_eq!(eta(&p), "-");
        p.complete = true;
        assert_eq!(eta(&p), "done");
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_rate("500K/s"), Ok(500 * 1024));
        assert!(parse_size("4 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert_eq!(human_duration(187.0), "3m07s");
        assert_eq!(human_rate(2.0 * 1024.0 * 1024.0), "2.00 MiB/s");
    }
}
