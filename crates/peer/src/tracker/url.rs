//! Tracker URLs: `http://`, `https://` and `udp://`, split into host, port and request target.

use std::fmt;

use super::TrackerError;

/// The protocol of a tracker URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://` (parsed, but the built-in driver cannot speak TLS)
    Https,
    /// `udp://` (BEP 15)
    Udp,
}

/// A parsed tracker URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackerUrl {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or IP literal (without IPv6 brackets).
    pub host: String,
    /// Port (defaults: 80, 443; UDP URLs must name one).
    pub port: u16,
    /// Path and query, starting with `/` (for HTTP; `/announce` when empty).
    pub target: String,
}

impl TrackerUrl {
    /// Parses `url`; the error names what is wrong.
    pub fn parse(url: &str) -> Result<Self, TrackerError> {
        let bad = |problem: &str| TrackerError::Url {
            url: url.to_string(),
            problem: problem.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (expected http://, https:// or udp://)"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "udp" => Scheme::Udp,
            other => return Err(bad(&format!("unsupported scheme `{other}`"))),
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed `[` in host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad(&format!("bad port `{p}`")))?,
            None => match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
                Scheme::Udp => return Err(bad("a udp:// tracker URL needs a port")),
            },
        };
        let target = target.split('#').next().unwrap_or("/").to_string();
        Ok(TrackerUrl {
            scheme,
            host: host.to_string(),
            port,
            target,
        })
    }

    /// `host:port`, with brackets around an IPv6 literal: what `connect` and `Host:` take.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The scrape URL by the BEP 48 convention (the last path segment `announce` becomes
    /// `scrape`); `None` when the URL does not follow it.
    pub fn scrape(&self) -> Option<TrackerUrl> {
        let (path, query) = match self.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.target.as_str(), None),
        };
        let (dir, last) = path.rsplit_once('/')?;
        let rest = last.strip_prefix("announce")?;
        let mut target = format!("{dir}/scrape{rest}");
        if let Some(q) = query {
            target.push('?');
            target.push_str(q);
        }
        Some(TrackerUrl {
            target,
            ..self.clone()
        })
    }
}

impl fmt::Display for TrackerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Udp => "udp",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.target)
    }
}

/// Percent-encodes bytes for a query string (everything but RFC 3986 unreserved characters).
pub(crate) fn percent_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = TrackerUrl::parse("http://tracker.example:6969/announce?passkey=x").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.target.as_str()),
            (Scheme::Http, "tracker.example", 6969, "/announce?passkey=x")
        );
        let u = TrackerUrl::parse("udp://[::1]:1337/announce").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Udp, "::1", 1337)
        );
        assert_eq!(u.authority(), "[::1]:1337");
        let u = TrackerUrl::parse("HTTPS://t.example").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.target.as_str()),
            (Scheme::Https, 443, "/")
        );
        assert_eq!(TrackerUrl::parse("http://t?x=1").unwrap().target, "/?x=1");
        assert_eq!(
            TrackerUrl::parse("http://t:80/a").unwrap().to_string(),
            "http://t:80/a"
        );
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, needle) in [
            ("tracker.example/announce", "no scheme"),
            ("wss://t/announce", "unsupported scheme `wss`"),
            ("udp://t/announce", "needs a port"),
            ("http://t:99999/", "bad port `99999`"),
            ("http://t:0/", "bad port `0`"),
            ("http:///announce", "empty host"),
            ("udp://[::1:80", "unclosed"),
        ] {
            let err = TrackerUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn scrape_convention() {
        let scrape = |s: &str| {
            TrackerUrl::parse(s)
                .unwrap()
                .scrape()
                .map(|u| u.to_string())
        };
        assert_eq!(
            scrape("http://t/announce").as_deref(),
            Some("http://t:80/scrape")
        );
        assert_eq!(
            scrape("http://t/x/announce.php?k=1").as_deref(),
            Some("http://t:80/x/scrape.php?k=1")
        );
        assert_eq!(scrape("http://t/a"), None);
        assert_eq!(scrape("http://t/announce/x"), None);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        let mut s = String::new();
        percent_encode(b"aZ9-._~ /\x00\xff%", &mut s);
        assert_eq!(s, "aZ9-._~%20%2F%00%FF%25");
    }
}
