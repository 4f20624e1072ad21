//! The thin tokio driver: performs HTTP (a minimal HTTP/1.1 client for `http://`) and UDP
//! tracker requests by moving bytes for the sans-IO parts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{lookup_host, TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

use super::http::{self, HttpResponse};
use super::{
    AnnounceRequest, AnnounceResponse, Scheme, ScrapeStats, TrackerError, TrackerUrl, UdpEvent,
    UdpSession,
};
use crate::Rng;

/// Settings for [`TrackerClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time limit for a whole HTTP exchange (connect, request, reply, redirects).
    pub http_timeout: Duration,
    /// UDP retransmissions before giving up; BEP 15 says 8 (over two hours), clients use fewer.
    pub udp_max_retransmits: u32,
    /// Redirects followed for HTTP trackers.
    pub max_redirects: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            http_timeout: Duration::from_secs(30),
            udp_max_retransmits: 2,
            max_redirects: 3,
        }
    }
}

/// Announces and scrapes over HTTP and UDP on the current tokio runtime.
///
/// It keeps one UDP socket per address family and one [`UdpSession`] per UDP tracker, so
/// connection ids are reused for their minute. `https://` trackers are refused with a clear
/// error: the built-in HTTP client has no TLS.
#[derive(Debug)]
pub struct TrackerClient {
    config: ClientConfig,
    rng: Rng,
    sessions: HashMap<SocketAddr, UdpSession>,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

impl TrackerClient {
    /// A client; `seed` drives UDP transaction ids.
    pub fn new(config: ClientConfig, seed: u64) -> Self {
        TrackerClient {
            config,
            rng: Rng::new(seed),
            sessions: HashMap::new(),
            v4: None,
            v6: None,
        }
    }

    /// Announces `req` to the tracker at `url`.
    pub async fn announce(
        &mut self,
        url: &str,
        req: &AnnounceRequest,
    ) -> Result<AnnounceResponse, TrackerError> {
        let url = TrackerUrl::parse(url)?;
        match url.scheme {
            Scheme::Udp => {
                let req = req.clone();
                match self.udp(&url, move |s, now| s.announce(now, req)).await? {
                    UdpEvent::Announced(r) => Ok(r),
                    UdpEvent::Failed(e) => Err(e),
                    UdpEvent::Scraped(_) => Err(TrackerError::Malformed(
                        "scrape reply to an announce".into(),
                    )),
                }
            }
            _ => {
                let target = http::announce_target(&url, req);
                http::parse_announce(&self.http_get(url, target).await?)
            }
        }
    }

    /// Scrapes `hashes` from the tracker whose announce URL is `url`.
    pub async fn scrape(
        &mut self,
        url: &str,
        hashes: &[[u8; 20]],
    ) -> Result<Vec<ScrapeStats>, TrackerError> {
        let url = TrackerUrl::parse(url)?;
        match url.scheme {
            Scheme::Udp => {
                let hashes = hashes.to_vec();
                match self.udp(&url, move |s, now| s.scrape(now, hashes)).await? {
                    UdpEvent::Scraped(r) => Ok(r),
                    UdpEvent::Failed(e) => Err(e),
                    UdpEvent::Announced(_) => {
                        Err(TrackerError::Malformed("announce reply to a scrape".into()))
                    }
                }
            }
            _ => {
                let scrape = url.scrape().ok_or_else(|| TrackerError::Url {
                    url: url.to_string(),
                    problem: "the path does not end in `announce`, so there is no scrape URL"
                        .into(),
                })?;
                let target = http::scrape_target(&scrape, hashes);
                http::parse_scrape(&self.http_get(scrape, target).await?)
            }
        }
    }

    async fn http_get(
        &self,
        mut url: TrackerUrl,
        mut target: String,
    ) -> Result<Vec<u8>, TrackerError> {
        let work = async {
            for _ in 0..=self.config.max_redirects {
                if url.scheme != Scheme::Http {
                    return Err(TrackerError::Url {
                        url: url.to_string(),
                        problem:
                            "https:// needs TLS, which the built-in tracker client does not have"
                                .into(),
                    });
                }
                let resp = fetch(&url, &target).await?;
                match (resp.status, &resp.location) {
                    (301 | 302 | 303 | 307 | 308, Some(loc)) => {
                        if loc.starts_with('/') {
                            target = loc.clone();
                        } else {
                            url = TrackerUrl::parse(loc)?;
                            target = url.target.clone();
                        }
                    }
                    (200, _) => return Ok(resp.body),
                    (status, _) => {
                        // Some trackers send their bencoded failure reason with an error status.
                        if let Err(e @ TrackerError::Failure(_)) = http::parse_announce(&resp.body)
                        {
                            return Err(e);
                        }
                        return Err(TrackerError::HttpStatus {
                            status,
                            reason: resp.reason,
                        });
                    }
                }
            }
            Err(TrackerError::Malformed(format!(
                "more than {} redirects",
                self.config.max_redirects
            )))
        };
        timeout(self.config.http_timeout, work)
            .await
            .map_err(|_| TrackerError::Timeout)?
    }

    async fn udp(
        &mut self,
        url: &TrackerUrl,
        start: impl FnOnce(&mut UdpSession, std::time::Instant),
    ) -> Result<UdpEvent, TrackerError> {
        let addr = resolve(url).await?;
        let slot = if addr.is_ipv6() {
            &mut self.v6
        } else {
            &mut self.v4
        };
        if slot.is_none() {
            let bind: SocketAddr = if addr.is_ipv6() {
                "[::]:0".parse()
            } else {
                "0.0.0.0:0".parse()
            }
            .map_err(|e| TrackerError::Io {
                op: "bind",
                source: std::io::Error::other(e),
            })?;
            *slot = Some(
                UdpSocket::bind(bind)
                    .await
                    .map_err(|source| TrackerError::Io { op: "bind", source })?,
            );
        }
        let Some(socket) = slot.as_ref() else {
            return Err(TrackerError::Timeout);
        };
        let seed = self.rng.next_u64();
        let retransmits = self.config.udp_max_retransmits;
        let session = self.sessions.entry(addr).or_insert_with(|| {
            UdpSession::new(seed, addr.is_ipv6()).with_max_retransmits(retransmits)
        });
        start(session, std::time::Instant::now());
        let mut buf = vec![0u8; 65536];
        loop {
            while let Some(packet) = session.poll_transmit() {
                socket
                    .send_to(&packet, addr)
                    .await
                    .map_err(|source| TrackerError::Io { op: "send", source })?;
            }
            if let Some(event) = session.poll_event() {
                return Ok(event);
            }
            let Some(deadline) = session.poll_timeout() else {
                return Err(TrackerError::Timeout);
            };
            tokio::select! {
                received = socket.recv_from(&mut buf) => {
                    let (n, from) = received.map_err(|source| TrackerError::Io { op: "receive", source })?;
                    if from == addr {
                        session.handle_datagram(std::time::Instant::now(), &buf[..n]);
                    }
                }
                () = tokio::time::sleep_until(Instant::from_std(deadline)) => {
                    session.handle_timeout(std::time::Instant::now());
                }
            }
        }
    }
}

async fn resolve(url: &TrackerUrl) -> Result<SocketAddr, TrackerError> {
    lookup_host(url.authority())
        .await
        .map_err(|source| TrackerError::Io {
            op: "resolve",
            source,
        })?
        .next()
        .ok_or_else(|| TrackerError::Url {
            url: url.to_string(),
            problem: "the host has no address".into(),
        })
}

async fn fetch(url: &TrackerUrl, target: &str) -> Result<HttpResponse, TrackerError> {
    let addr = resolve(url).await?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|source| TrackerError::Io {
            op: "connect",
            source,
        })?;
    stream
        .write_all(&http::get_request(url, target))
        .await
        .map_err(|source| TrackerError::Io { op: "send", source })?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|source| TrackerError::Io {
                op: "receive",
                source,
            })?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(resp) = http::parse_response(&buf, n == 0)? {
            return Ok(resp);
        }
    }
}
