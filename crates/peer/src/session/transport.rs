//! The two transports a peer connection runs over: TCP and uTP (BEP 29, on the engine's
//! [`UdpPort`](super::UdpPort)). [`PeerStream`] is either, for the socket tasks, MSE and the
//! listeners; [`Dialer`] opens outgoing connections under the `--transport` policy, uTP first
//! with a short fallback to TCP as libtorrent does.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use torrentkit_utp::{UtpSocket, UtpStream};

/// How long a uTP dial runs alone under [`Transport::Both`] before TCP is dialled beside it
/// (happy eyeballs, as RFC 8305 races IPv6 and IPv4): a peer without uTP never answers the SYN,
/// and waiting seconds for it (libtorrent's `utp_connect_timeout` is 3 s) delays every dial to
/// aria2c and to clients with uTP off. A peer whose uTP answers within this gets uTP; the first
/// transport to connect after it wins.
pub const UTP_FALLBACK: Duration = Duration::from_millis(250);

/// Which transports peer connections use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// TCP only: no uTP is dialled or accepted.
    Tcp,
    /// uTP only: dial and accept uTP, never TCP.
    Utp,
    /// Both (libtorrent's default): dial uTP first and TCP beside it after
    /// [`UTP_FALLBACK`], the first to connect winning; accept both.
    #[default]
    Both,
}

impl Transport {
    /// Whether uTP is dialled or accepted (a [`UdpPort`](super::UdpPort) is needed).
    pub fn utp(self) -> bool {
        self != Transport::Tcp
    }

    /// Whether TCP is dialled or accepted.
    pub fn tcp(self) -> bool {
        self != Transport::Utp
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Utp => "utp",
            Transport::Both => "both",
        })
    }
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Transport::Tcp),
            "utp" => Ok(Transport::Utp),
            "both" => Ok(Transport::Both),
            _ => Err(format!("transport `{s}`: expected tcp, utp or both")),
        }
    }
}

/// A peer connection's byte stream, over either transport.
#[derive(Debug)]
pub(crate) enum PeerStream {
    Tcp(TcpStream),
    Utp(UtpStream),
}

/// The reading half of a [`PeerStream`].
pub(super) type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a [`PeerStream`].
pub(super) type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

impl PeerStream {
    /// Whether it runs over uTP.
    pub(super) fn is_utp(&self) -> bool {
        matches!(self, PeerStream::Utp(_))
    }

    /// The peer's address.
    pub(super) fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            PeerStream::Tcp(s) => s.peer_addr().ok(),
            PeerStream::Utp(s) => Some(s.peer_addr()),
        }
    }

    /// Small messages (requests, haves) go out at once: no Nagle on TCP (uTP's own Nagle
    /// waits for nothing but its window).
    pub(super) fn set_nodelay(&self) {
        if let PeerStream::Tcp(s) = self {
            let _ = s.set_nodelay(true);
        }
    }

    /// Splits it for the reader and writer tasks (TCP's halves need no lock).
    pub(super) fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            PeerStream::Tcp(s) => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            PeerStream::Utp(s) => {
                let (r, w) = tokio::io::split(s);
                (Box::new(r), Box::new(w))
            }
        }
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Utp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_write(cx, data),
            PeerStream::Utp(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Utp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            PeerStream::Utp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Opens outgoing peer connections under a [`Transport`] policy.
#[derive(Debug, Clone)]
pub(super) struct Dialer {
    transport: Transport,
    /// The uTP endpoint to dial from (the [`UdpPort`](super::UdpPort)'s); without it uTP is
    /// never dialled.
    utp: Option<Arc<UtpSocket>>,
    /// The time limit of a whole dial.
    timeout: Duration,
}

impl Dialer {
    pub(super) fn new(
        transport: Transport,
        utp: Option<Arc<UtpSocket>>,
        timeout: Duration,
    ) -> Dialer {
        let utp = utp.filter(|_| transport.utp());
        Dialer {
            transport,
            utp,
            timeout,
        }
    }

    /// Connects to `addr`: uTP first when allowed; under `both`, TCP is dialled beside it
    /// once uTP has had [`UTP_FALLBACK`] alone (or at once when uTP fails), and the first to
    /// connect wins.
    pub(super) async fn dial(&self, addr: SocketAddr) -> io::Result<PeerStream> {
        let Some(utp) = &self.utp else {
            if !self.transport.tcp() {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "transport utp, and no uTP socket",
                ));
            }
            return Self::tcp(addr, self.timeout).await;
        };
        let timeout = self.timeout;
        let utp_dial = async move {
            match tokio::time::timeout(timeout, utp.connect(addr)).await {
                Ok(r) => r.map(PeerStream::Utp),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("utp: {addr} did not answer within {timeout:?}"),
                )),
            }
        };
        if !self.transport.tcp() {
            return utp_dial.await;
        }
        tokio::pin!(utp_dial);
        let utp_error = match tokio::time::timeout(UTP_FALLBACK, &mut utp_dial).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => Some(e),
            Err(_) => None,
        };
        let tcp_dial = Self::tcp(addr, self.timeout);
        if utp_error.is_some() {
            return tcp_dial.await;
        }
        tokio::pin!(tcp_dial);
        // Both in flight: the first success wins; an error waits for the other.
        tokio::select! {
            r = &mut utp_dial => match r {
                Ok(s) => Ok(s),
                Err(_) => tcp_dial.await,
            },
            r = &mut tcp_dial => match r {
                Ok(s) => Ok(s),
                Err(e) => utp_dial.await.map_err(|_| e),
            },
        }
    }

    /// Connects to `addr` again over uTP if `utp`, else TCP: the transport of the connection
    /// it replaces (MSE's plaintext retry).
    pub(super) async fn redial(&self, addr: SocketAddr, utp: bool) -> io::Result<PeerStream> {
        match (utp, &self.utp) {
            (true, Some(utp)) => tokio::time::timeout(self.timeout, utp.connect(addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "utp: redial timed out"))?
                .map(PeerStream::Utp),
            _ => Self::tcp(addr, self.timeout).await,
        }
    }

    async fn tcp(addr: SocketAddr, limit: Duration) -> io::Result<PeerStream> {
        let s = tokio::time::timeout(limit, TcpStream::connect(addr))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "tcp: connect timed out"))??;
        Ok(PeerStream::Tcp(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn transports_parse_and_print() {
        for t in [Transport::Tcp, Transport::Utp, Transport::Both] {
            assert_eq!(t.to_string().parse::<Transport>(), Ok(t));
        }
        assert_eq!(Transport::default(), Transport::Both);
        assert_eq!(
            "quic".parse::<Transport>().unwrap_err(),
            "transport `quic`: expected tcp, utp or both"
        );
        assert!(Transport::Both.utp() && Transport::Both.tcp());
        assert!(!Transport::Tcp.utp() && !Transport::Utp.tcp());
    }

    /// Under `both`, a peer that answers uTP gets uTP; one with only TCP (nothing on its UDP
    /// port) gets TCP soon after the head start; under `utp` that peer is not reached at all.
    #[tokio::test]
    async fn both_dials_utp_first_and_falls_back_to_tcp() {
        let ours = Arc::new(
            UtpSocket::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        );
        let theirs = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let to = theirs.local_addr();
        let server = tokio::spawn(async move {
            let mut s = theirs.accept().await.unwrap();
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.unwrap();
            b
        });
        let both = Dialer::new(Transport::Both, Some(ours.clone()), Duration::from_secs(10));
        let mut s = both.dial(to).await.unwrap();
        assert!(s.is_utp());
        s.write_all(b"hi").await.unwrap();
        assert_eq!(&server.await.unwrap(), b"hi");

        // A TCP-only peer: a listener whose port number has nothing on UDP (a socket bound
        // and dropped answers nothing; a closed port may send ICMP, which fails uTP faster).
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = tcp.local_addr().unwrap();
        let start = std::time::Instant::now();
        let (s, _) = tokio::join!(both.dial(at), tcp.accept());
        let s = s.unwrap();
        assert!(!s.is_utp());
        assert!(start.elapsed() <= UTP_FALLBACK + Duration::from_secs(1));

        let only = Dialer::new(Transport::Utp, Some(ours), Duration::from_millis(800));
        assert!(only.dial(at).await.is_err(), "utp never dials TCP");
        let tcp_only = Dialer::new(Transport::Tcp, None, Duration::from_secs(5));
        let (s, _) = tokio::join!(tcp_only.dial(at), tcp.accept());
        assert!(!s.unwrap().is_utp());
    }
}
