//! nginx (Debian package `nginx`) as a real web server for the web-seed and HTTPS cases: run on
//! a free loopback port with a config and prefix directory of its own under the case directory,
//! as one process (`master_process off`) that the case stops by PID; and a test certificate
//! authority made with openssl for its TLS side.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::interop::context::Ctx;
use crate::interop::process::Managed;
use crate::interop::{net, packages};

/// A running nginx; stopped (by PID) when dropped.
pub(crate) struct Nginx {
    /// The plain HTTP port.
    pub(crate) port: u16,
    /// The HTTPS port, when started with a certificate.
    pub(crate) tls_port: Option<u16>,
    _process: Managed,
}

/// What nginx serves: the document root, extra `location` blocks, a certificate.
pub(crate) struct Site<'a> {
    /// Served at `/`.
    pub(crate) root: &'a Path,
    /// Extra directives inside each `server` block (such as `location /norange/ { ... }`).
    pub(crate) extra: &'a str,
    /// Serve HTTPS too, with this certificate and key.
    pub(crate) tls: Option<&'a TestCa>,
}

impl Nginx {
    /// Starts nginx for `site` and waits until it accepts connections.
    pub(crate) fn start(ctx: &Ctx, name: &str, site: &Site<'_>) -> anyhow::Result<Nginx> {
        packages::require(&[("/usr/sbin/nginx", "nginx")])?;
        let prefix = ctx.path(name);
        std::fs::create_dir_all(prefix.join("tmp"))?;
        let port = net::free_port()?;
        let tls_port = site.tls.map(|_| net::free_port()).transpose()?;
        let p = prefix.display();
        let root = site.root.display();
        let extra = site.extra;
        let mut servers = format!("  server {{ listen 127.0.0.1:{port}; root {root}; {extra} }}\n");
        if let (Some(ca), Some(tp)) = (site.tls, tls_port) {
            servers.push_str(&format!(
                "  server {{ listen 127.0.0.1:{tp} ssl; ssl_certificate {}; ssl_certificate_key {}; root {root}; {extra} }}\n",
                ca.cert.display(),
                ca.key.display()
            ));
        }
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/access.log;\n  sendfile on;\n\
             client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp;\n\
             uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;\n  types {{ }}\n  default_type application/octet-stream;\n{servers}}}\n"
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf)?;
        let process = ctx
            .spawn(name, "/usr/sbin/nginx")
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf_path)
            .start()?;
        let deadline = ctx.deadline_in(std::time::Duration::from_secs(10));
        net::wait_for_tcp(net::loopback(port), deadline)
            .with_context(|| format!("{name}: nginx did not listen{}", process.stderr_tail()))?;
        if let Some(tp) = tls_port {
            net::wait_for_tcp(net::loopback(tp), deadline)?;
        }
        Ok(Nginx {
            port,
            tls_port,
            _process: process,
        })
    }

    /// `http://127.0.0.1:PORT/path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// `https://127.0.0.1:TLS_PORT/path`.
    pub(crate) fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.tls_port.unwrap_or(0))
    }
}

/// A certificate authority made for the case and a server certificate it signed for
/// 127.0.0.1 and localhost.
pub(crate) struct TestCa {
    /// The CA certificate (`--ca-cert`).
    pub(crate) ca: PathBuf,
    /// The server's certificate.
    pub(crate) cert: PathBuf,
    /// The server's private key.
    pub(crate) key: PathBuf,
}

impl TestCa {
    /// Makes the CA and the server certificate in `ctx`'s directory with openssl.
    pub(crate) fn make(ctx: &Ctx) -> anyhow::Result<TestCa> {
        packages::require(&[("openssl", "openssl")])?;
        let dir = ctx.path("certs");
        std::fs::create_dir_all(&dir)?;
        let f = |n: &str| dir.join(n);
        let ext = f("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )?;
        let deadline = ctx.deadline_in(std::time::Duration::from_secs(30));
        let (ca_key, ca, key, csr, cert) = (
            f("ca.key"),
            f("test-ca.pem"),
            f("server.key"),
            f("server.csr"),
            f("server.pem"),
        );
        let d = |p: &Path| p.display().to_string();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        let steps = [
            format!(
                "req -x509 {ec} -days 2 -subj /CN=torrentkit-interop-CA -keyout {} -out {}",
                d(&ca_key),
                d(&ca)
            ),
            format!(
                "req {ec} -subj /CN=127.0.0.1 -keyout {} -out {}",
                d(&key),
                d(&csr)
            ),
            format!(
                "x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -extfile {} -out {}",
                d(&csr),
                d(&ca),
                d(&ca_key),
                d(&ext),
                d(&cert)
            ),
        ];
        for (i, step) in steps.iter().enumerate() {
            // The case directory's paths have no spaces, so splitting on them is safe.
            ctx.spawn(&format!("openssl-{i}"), "openssl")
                .args(step.split(' '))
                .run(deadline)?;
        }
        if !cert.exists() {
            bail!("openssl made no {}", cert.display());
        }
        Ok(TestCa { ca, cert, key })
    }
}
