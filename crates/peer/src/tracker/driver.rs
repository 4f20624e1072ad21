//! The thin tokio driver: performs HTTP (through [`crate::http`]) and UDP tracker requests by
//! moving bytes for the sans-IO parts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;
use torrentkit_tracker_proto::{parse_scrape_reply, InfoHash, ScrapeRequest};

use super::{AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError, UdpEvent, UdpSession};
use crate::http::{self, Scheme, Url};
use crate::Rng;

/// The largest HTTP tracker reply accepted (headers and body).
const MAX_RESPONSE: usize = 4 << 20;

/// Settings for [`TrackerClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time limit for a whole HTTP exchange (connect, request, reply, redirects).
    pub http_timeout: Duration,
    /// UDP retransmissions before giving up: BEP 15's 8 by default (waits of 15 s * 2^n, so
    /// a dead tracker is given up after about an hour and a half).
    pub udp_max_retransmits: u32,
    /// Redirects followed for HTTP trackers.
    pub max_redirects: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            http_timeout: Duration::from_secs(30),
            udp_max_retransmits: super::udp::MAX_RETRANSMITS,
            max_redirects: 3,
        }
    }
}

/// Announces and scrapes over HTTP and UDP on the current tokio runtime.
///
/// It keeps one UDP socket per address family and one [`UdpSession`] per UDP tracker, so
/// connection ids are reused for their minute. `http://` and `https://` trackers go through
/// [`http::send`] (the process's client: system roots plus `--ca-cert`).
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
        let url = Url::parse(url)?;
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
                let mut target = url.to_string();
                req.write_query(&mut target);
                Ok(AnnounceResponse::parse(&self.http_get(&target).await?)?)
            }
        }
    }

    /// Scrapes `hashes` from the tracker whose announce URL is `url`.
    pub async fn scrape(
        &mut self,
        url: &str,
        hashes: &[InfoHash],
    ) -> Result<Vec<ScrapeStats>, TrackerError> {
        let url = Url::parse(url)?;
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
                let mut target = scrape.to_string();
                ScrapeRequest {
                    info_hashes: hashes.to_vec(),
                }
                .write_query(&mut target);
                Ok(parse_scrape_reply(&self.http_get(&target).await?)?)
            }
        }
    }

    /// The body of a `200 OK` reply to `GET url`, following redirects.
    async fn http_get(&self, url: &str) -> Result<Vec<u8>, TrackerError> {
        let options = http::Options {
            timeout: self.config.http_timeout,
            max_redirects: self.config.max_redirects,
            max_response: MAX_RESPONSE,
        };
        let resp = http::send(&http::Request::get(url), &options).await?;
        if resp.status == 200 {
            return Ok(resp.body);
        }
        // Some trackers send their bencoded failure reason with an error status.
        if let Err(e @ TrackerError::Failure(_)) =
            AnnounceResponse::parse(&resp.body).map_err(TrackerError::from)
        {
            return Err(e);
        }
        Err(TrackerError::HttpStatus {
            status: resp.status,
            reason: resp.reason,
        })
    }

    async fn udp(
        &mut self,
        url: &Url,
        start: impl FnOnce(&mut UdpSession, std::time::Instant),
    ) -> Result<UdpEvent, TrackerError> {
        let addr = http::resolve(url).await?;
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
