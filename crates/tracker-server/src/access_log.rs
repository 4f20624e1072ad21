//! [`AccessLog`]: one Common Log Format line per HTTP request, buffered in memory and written by a
//! background thread, so that a slow or blocked output never holds up a request.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lines beyond this many buffered bytes are dropped (and counted) rather than block a request.
const MAX_BUFFERED: usize = 4 << 20;
/// The writer thread flushes at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

struct Shared {
    buf: Mutex<Buffer>,
    wake: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
}

thread_local! {
    /// The cached `[10/Oct/2000:13:55:36 +0000]` text and the second it is for.
    static STAMP: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
}

/// A Common Log Format request log writing to any [`Write`] from its own thread.
///
/// Lines look like Apache's:
/// `127.0.0.1 - - [21/Nov/2026:00:46:17 +0000] "GET /announce?info_hash=... HTTP/1.1" 200 123`.
/// Dropping the log (or calling [`AccessLog::close`]) flushes what is buffered.
#[derive(Clone)]
pub struct AccessLog {
    shared: Arc<Shared>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl AccessLog {
    /// A log whose lines go to `out` (for example `std::io::stdout()`).
    pub fn new(out: impl Write + Send + 'static) -> AccessLog {
        let shared = Arc::new(Shared {
            buf: Mutex::new(Buffer::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let writer = shared.clone();
        let thread = std::thread::Builder::new()
            .name("tracker-log".into())
            .spawn(move || write_loop(&writer, out))
            .ok();
        AccessLog {
            shared,
            thread: Arc::new(Mutex::new(thread)),
        }
    }

    /// Lines dropped because the output could not keep up.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Appends one line. `request_line` is `METHOD TARGET VERSION` (control characters and
    /// quotes in it are escaped); `size` the body size.
    pub fn log(
        &self,
        client: Option<IpAddr>,
        request_line: impl std::fmt::Display,
        status: u16,
        size: Option<u64>,
    ) {
        use std::fmt::Write as _;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut buf = self.shared.buf.lock().unwrap_or_else(|e| e.into_inner());
        if buf.closed {
            return;
        }
        if buf.bytes.len() > MAX_BUFFERED {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut w = Escaping(&mut buf.bytes, false);
        let _ = match client {
            Some(ip) => write!(w, "{ip}"),
            None => w.write_str("-"),
        };
        w.0.extend_from_slice(b" - - ");
        STAMP.with(|stamp| {
            let mut stamp = stamp.borrow_mut();
            if stamp.1.is_empty() || stamp.0 != now {
                *stamp = (now, clf_time(now));
            }
            w.0.extend_from_slice(stamp.1.as_bytes());
        });
        w.0.extend_from_slice(b" \"");
        // Control characters and quotes would break the one-line-per-request format.
        w.1 = true;
        let _ = write!(w, "{request_line}");
        w.1 = false;
        let _ = write!(w, "\" {status} ");
        let _ = match size {
            Some(n) => writeln!(w, "{n}"),
            None => w.write_str("-\n"),
        };
    }

    /// Writes out what is buffered and stops the writer thread. Later lines are discarded.
    pub fn close(&self) {
        {
            let mut buf = self.shared.buf.lock().unwrap_or_else(|e| e.into_inner());
            buf.closed = true;
        }
        self.shared.wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// Appends to a byte buffer, escaping control characters and `"` while `.1` is set.
struct Escaping<'a>(&'a mut Vec<u8>, bool);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if !self.1 || !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'"') {
            self.0.extend_from_slice(s.as_bytes());
            return Ok(());
        }
        for c in s.chars() {
            if c.is_control() || c == '"' {
                let code = u32::from(c);
                if code <= 0xff {
                    self.0
                        .extend_from_slice(format!("\\x{code:02x}").as_bytes());
                } else {
                    self.0
                        .extend_from_slice(format!("\\u{{{code:x}}}").as_bytes());
                }
            } else {
                let mut b = [0u8; 4];
                self.0.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
        Ok(())
    }
}

fn write_loop(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let closed = {
            let buf = shared.buf.lock().unwrap_or_else(|e| e.into_inner());
            let (mut buf, _) = shared
                .wake
                .wait_timeout_while(buf, FLUSH_EVERY, |b| !b.closed)
                .unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut buf.bytes, &mut spare);
            buf.closed
        };
        if !spare.is_empty() {
            // Output errors (a closed pipe) only lose log lines; the tracker keeps working.
            let _ = out.write_all(&spare);
            let _ = out.flush();
            spare.clear();
        }
        if closed {
            return;
        }
    }
}

/// `[10/Oct/2000:13:55:36 +0000]` for a Unix time in seconds (UTC); a time past year 9999 (no
/// clock reads that) is written as the raw number.
pub(crate) fn clf_time(unix: u64) -> String {
    let format = time::macros::format_description!(
        "[[[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000]"
    );
    i64::try_from(unix)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("[{unix}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn clf_dates() {
        assert_eq!(clf_time(0), "[01/Jan/1970:00:00:00 +0000]");
        assert_eq!(clf_time(971_186_136), "[10/Oct/2000:13:55:36 +0000]");
        assert_eq!(clf_time(1_709_208_000), "[29/Feb/2024:12:00:00 +0000]");
    }

    #[test]
    fn lines_reach_the_writer_on_close() {
        let sink = Sink::default();
        let log = AccessLog::new(sink.clone());
        log.log(
            Some("127.0.0.1".parse().unwrap()),
            "GET /announce?x=\"1\" HTTP/1.1",
            200,
            Some(57),
        );
        log.log(None, "GET / HTTP/1.1", 404, None);
        log.close();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("127.0.0.1 - - ["), "{text}");
        assert!(
            lines[0].ends_with("] \"GET /announce?x=\\x221\\x22 HTTP/1.1\" 200 57"),
            "{text}"
        );
        assert!(
            lines[1].starts_with("- - - [") && lines[1].ends_with("\" 404 -"),
            "{text}"
        );
    }
}
