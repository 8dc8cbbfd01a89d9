//! TLS of the REST API, with Flink's `security.ssl.rest.*` keys and PEM files
//! (rustls; Java keystores are not read: convert one with `openssl pkcs12 -in
//! keystore.p12 -nodes -out keystore.pem`).
//!
//! - `security.ssl.rest.enabled`: the server speaks HTTPS only, and clients
//!   (the CLI) connect with TLS.
//! - `security.ssl.rest.keystore`: the server's certificate chain, and its
//!   private key unless `security.ssl.rest.key` names another file.
//! - `security.ssl.rest.truststore`: the certificates a client trusts to sign
//!   the server's (and the server trusts to sign a client's).
//! - `security.ssl.rest.authentication-enabled`: mutual TLS; the server
//!   refuses a client without a certificate the truststore signed, and a
//!   client presents the keystore's.
//!
//! A missing or unreadable file, a key that is not the certificate's, or a
//! keystore type other than PEM is an error naming the key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use eddy_core::{Config, Error, Result};
use eddy_runtime::network::secure::{certificates, file, flag, private_key, provider, roots};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The TLS library, for clients of the API (the CLI).
pub use tokio_rustls::rustls;

/// Configuration key: whether the REST API speaks TLS.
pub const ENABLED: &str = "security.ssl.rest.enabled";
/// Configuration key: the PEM file of the server's certificate chain (and key).
pub const KEYSTORE: &str = "security.ssl.rest.keystore";
/// Configuration key: the PEM file of the private key, if not in the keystore.
pub const KEY: &str = "security.ssl.rest.key";
/// Configuration key: the keystore's format; only `PEM` is read.
pub const KEYSTORE_TYPE: &str = "security.ssl.rest.keystore-type";
/// Configuration key: the PEM file of the certificates to trust.
pub const TRUSTSTORE: &str = "security.ssl.rest.truststore";
/// Configuration key: mutual TLS.
pub const MUTUAL: &str = "security.ssl.rest.authentication-enabled";

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn invalid(key: &str, message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Whether the configuration turns TLS on for the REST API.
pub fn enabled(config: &Config) -> Result<bool> {
    flag(config, ENABLED)
}

fn trusted(config: &Config, why: &str) -> Result<RootCertStore> {
    roots(TRUSTSTORE, file(config, TRUSTSTORE, why)?)
}

/// The keystore's certificate chain and private key.
fn identity(
    config: &Config,
    why: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    if let Some(kind) = config.get_str(KEYSTORE_TYPE) {
        if !kind.trim().eq_ignore_ascii_case("PEM") {
            return Err(invalid(
                KEYSTORE_TYPE,
                format!("'{kind}' is not read: convert the keystore to PEM (openssl pkcs12 -in keystore.p12 -nodes -out keystore.pem)"),
            ));
        }
    }
    let store = file(config, KEYSTORE, why)?;
    let certs = certificates(KEYSTORE, store)?;
    let (key, path) = match config.get_str(KEY).filter(|p| !p.trim().is_empty()) {
        Some(path) => (KEY, path),
        None => (KEYSTORE, store),
    };
    Ok((certs, private_key(key, path)?))
}

/// The server's TLS configuration, or `None` when TLS is off.
pub fn server_config(config: &Config) -> Result<Option<Arc<ServerConfig>>> {
    if !enabled(config)? {
        return Ok(None);
    }
    let (certs, key) = identity(config, "for TLS (security.ssl.rest.enabled)")?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(ENABLED, e.to_string()))?;
    let builder = if flag(config, MUTUAL)? {
        let roots = trusted(config, "to check clients' certificates (mutual TLS)")?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| invalid(TRUSTSTORE, e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut server = builder.with_single_cert(certs, key).map_err(|e| {
        invalid(
            KEYSTORE,
            format!("the private key does not fit the certificate: {e}"),
        )
    })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(server)))
}

/// A client's TLS configuration (the CLI's), or `None` when TLS is off.
pub fn client_config(config: &Config) -> Result<Option<Arc<ClientConfig>>> {
    if !enabled(config)? {
        return Ok(None);
    }
    let roots = trusted(config, "to check the server's certificate")?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(ENABLED, e.to_string()))?
        .with_root_certificates(roots);
    let client = if flag(config, MUTUAL)? {
        let (certs, key) = identity(config, "for a client certificate (mutual TLS)")?;
        builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| invalid(KEYSTORE, e.to_string()))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Some(Arc::new(client)))
}

/// Accepts TLS connections for `axum::serve`: handshakes run on their own
/// tasks, so a slow or broken client never holds up the others; one that
/// fails is dropped.
pub(crate) struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` with `config` (in a tokio runtime).
    pub(crate) fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, accepted) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(connection) => connection,
                    Err(e) => {
                        tracing::warn!("the REST port cannot accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { accepted, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accepting task ended with the runtime: nothing comes anymore.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
