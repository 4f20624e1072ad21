//! [`Url`]: `http://`, `https://` and `udp://` URLs (trackers, web servers), split into host,
//! port and request target.

use std::fmt;

/// The protocol of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://` (parsed, but the built-in HTTP client cannot speak TLS)
    Https,
    /// `udp://` (BEP 15)
    Udp,
}

/// A URL that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The URL.
    pub url: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL `{}`: {}", self.url, self.problem)
    }
}

impl std::error::Error for UrlError {}

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or IP literal (without IPv6 brackets).
    pub host: String,
    /// Port (defaults: 80, 443; UDP URLs must name one).
    pub port: u16,
    /// Path and query, starting with `/` (for HTTP; `/announce` when empty).
    pub target: String,
}

impl Url {
    /// Parses `url`; the error names what is wrong.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let bad = |problem: &str| UrlError {
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
        Ok(Url {
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

    /// The scrape URL of a tracker's announce URL by the BEP 48 convention (the last path
    /// segment `announce` becomes `scrape`); `None` when the URL does not follow it.
    pub fn scrape(&self) -> Option<Url> {
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
        Some(Url {
            target,
            ..self.clone()
        })
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Udp => "udp",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = Url::parse("http://tracker.example:6969/announce?passkey=x").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.target.as_str()),
            (Scheme::Http, "tracker.example", 6969, "/announce?passkey=x")
        );
        let u = Url::parse("udp://[::1]:1337/announce").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::Udp, "::1", 1337)
        );
        assert_eq!(u.authority(), "[::1]:1337");
        let u = Url::parse("HTTPS://t.example").unwrap();
        assert_eq!(
            (u.scheme, u.port, u.target.as_str()),
            (Scheme::Https, 443, "/")
        );
        assert_eq!(Url::parse("http://t?x=1").unwrap().target, "/?x=1");
        assert_eq!(
            Url::parse("http://t:80/a").unwrap().to_string(),
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
            let err = Url::parse(url).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(url), "{url}: {err}");
        }
    }

    /// What `bt download` and `bt publish` split `http://` URLs into (moved with the cli's
    /// HTTP client, which this module replaced).
    #[test]
    fn cli_urls_split_into_authority_and_target() {
        let u = Url::parse("http://h:8080/a/b.torrent").unwrap();
        assert_eq!(
            (u.authority().as_str(), u.target.as_str()),
            ("h:8080", "/a/b.torrent")
        );
        let u = Url::parse("http://h").unwrap();
        assert_eq!((u.host.as_str(), u.target.as_str()), ("h", "/"));
    }

    #[test]
    fn scrape_convention() {
        let scrape = |s: &str| Url::parse(s).unwrap().scrape().map(|u| u.to_string());
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
}
