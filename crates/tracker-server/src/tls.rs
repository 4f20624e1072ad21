//! HTTPS for the tracker without a reverse proxy: [`TlsConfig`] loads a PEM certificate chain
//! and key into a rustls server configuration (the `ring` provider), and `serve` runs the
//! router on TLS connections. Each handshake runs in a task of its own under a time limit, so a
//! slow or silent client never holds up the accept loop.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Time a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A loaded certificate and key for serving HTTPS.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

/// Why a certificate or key cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub struct TlsError {
    /// The file at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Loads the PEM certificate chain at `cert` (the server's first) and the PEM private key
    /// (PKCS#8, PKCS#1 or SEC1) at `key`, and checks that they belong together.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let bad = |path: &Path, problem: String| TlsError {
            path: path.to_path_buf(),
            problem,
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(bad(cert, "no PEM certificate in it".into()));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
        // ring, not aws-lc (which needs cmake to build); rustls marks it deprecated only for
        // lacking post-quantum key exchange, which no tracker client asks for yet.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(cert, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(|e| bad(key, format!("does not fit the certificate: {e}")))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            server: Arc::new(server),
        })
    }
}

/// Serves `app` over TLS on `listener` until `stop` completes: each accepted connection is
/// handshaken and served in a task of its own (the router sees the peer's address as
/// `ConnectInfo`, as over plain HTTP); open connections are dropped when it stops.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: TlsConfig,
    app: axum::Router,
    stop: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(tls.server.clone());
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let (tcp, addr) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of descriptors and the like: wait a moment, as axum's own loop does.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone().layer(axum::Extension(ConnectInfo(addr)));
        conns.spawn(async move {
            let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
            let Ok(Ok(stream)) = shake.await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    conns.shutdown().await;
    Ok(())
}
