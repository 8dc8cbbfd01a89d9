//! What the cluster's connections (RPC between the JobManager and the
//! TaskManagers, data between TaskManagers) present and check: the cluster
//! secret, and with `security.ssl.internal.enabled` mutual TLS (rustls, PEM
//! files), as Flink's internal TLS does: both ends present the keystore's
//! certificate and trust the truststore's, and host names are not checked,
//! so one certificate may serve the whole cluster.
//!
//! The PEM loading here also serves the REST API's TLS.

use std::net::SocketAddr;
use std::sync::Arc;

use eddy_core::config::options;
use eddy_core::{Config, Error, Result};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::warn;

use super::wire::HELLO_TIMEOUT;

/// Configuration key: whether the cluster's connections speak TLS.
pub const INTERNAL_ENABLED: &str = "security.ssl.internal.enabled";
/// Configuration key: the PEM file of this process's certificate chain (and key).
pub const INTERNAL_KEYSTORE: &str = "security.ssl.internal.keystore";
/// Configuration key: the PEM file of the private key, if not in the keystore.
pub const INTERNAL_KEY: &str = "security.ssl.internal.key";
/// Configuration key: the PEM file of the certificates to trust.
pub const INTERNAL_TRUSTSTORE: &str = "security.ssl.internal.truststore";

/// A connection, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

fn invalid(key: &str, message: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        message: message.into(),
    }
}

/// The cryptography the TLS configurations use.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(tokio_rustls::rustls::crypto::ring::default_provider())
}

/// The certificates of the PEM file `path` (named by configuration key `key`
/// in errors); none is an error.
pub fn certificates(key: &str, path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| invalid(key, format!("cannot read certificates from {path}: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(key, format!("{path} holds no PEM certificate")));
    }
    Ok(certs)
}

/// The first private key of the PEM file `path`.
pub fn private_key(key: &str, path: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| invalid(key, format!("no private key in {path}: {e}")))
}

/// The certificates of the PEM file `path`, as trusted roots.
pub fn roots(key: &str, path: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(key, path)? {
        roots
            .add(cert)
            .map_err(|e| invalid(key, format!("a certificate of {path}: {e}")))?;
    }
    Ok(roots)
}

/// The file configuration key `key` names; `why` says what needs it.
pub fn file<'a>(config: &'a Config, key: &str, why: &str) -> Result<&'a str> {
    config
        .get_str(key)
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| invalid(key, format!("is needed {why}")))
}

/// Whether the boolean configuration key `key` is set to true.
pub fn flag(config: &Config, key: &str) -> Result<bool> {
    match config.get_str(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(invalid(key, format!("'{v}' is not true or false"))),
    }
}

/// Checks a server's certificate chain against the truststore but not its
/// name: cluster processes are reached at whatever address they registered.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, tokio_rustls::rustls::Error> {
        use tokio_rustls::rustls::Error as TlsError;
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Mutual TLS of the cluster's connections.
pub struct InternalTls {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for InternalTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalTls")
    }
}

impl InternalTls {
    /// The TLS of `config`'s `security.ssl.internal.*` keys, or `None` when it
    /// is off; a missing or unreadable file is an error naming its key.
    pub fn from_config(config: &Config) -> Result<Option<Arc<InternalTls>>> {
        if !flag(config, INTERNAL_ENABLED)? {
            return Ok(None);
        }
        let why = "for TLS between cluster processes (security.ssl.internal.enabled)";
        let store = file(config, INTERNAL_KEYSTORE, why)?;
        let certs = certificates(INTERNAL_KEYSTORE, store)?;
        let key = match config
            .get_str(INTERNAL_KEY)
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) => private_key(INTERNAL_KEY, path)?,
            None => private_key(INTERNAL_KEYSTORE, store)?,
        };
        let trusted = Arc::new(roots(
            INTERNAL_TRUSTSTORE,
            file(config, INTERNAL_TRUSTSTORE, why)?,
        )?);
        let tls_error = |e: tokio_rustls::rustls::Error| invalid(INTERNAL_KEYSTORE, e.to_string());
        let clients = WebPkiClientVerifier::builder_with_provider(trusted.clone(), provider())
            .build()
            .map_err(|e| invalid(INTERNAL_TRUSTSTORE, e.to_string()))?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_client_cert_verifier(clients)
            .with_single_cert(certs.clone(), key.clone_key())
            .map_err(|e| {
                invalid(
                    INTERNAL_KEYSTORE,
                    format!("the private key does not fit the certificate: {e}"),
                )
            })?;
        let servers = WebPkiServerVerifier::builder_with_provider(trusted, provider())
            .build()
            .map_err(|e| invalid(INTERNAL_TRUSTSTORE, e.to_string()))?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(servers)))
            .with_client_auth_cert(certs, key)
            .map_err(tls_error)?;
        Ok(Some(Arc::new(InternalTls {
            connector: TlsConnector::from(Arc::new(client)),
            acceptor: TlsAcceptor::from(Arc::new(server)),
        })))
    }
}

/// What a cluster process presents to its peers and checks of them.
#[derive(Clone, Debug, Default)]
pub struct ClusterSecurity {
    /// `security.cluster.secret` (empty: none).
    pub secret: String,
    /// TLS, when `security.ssl.internal.enabled` is set.
    pub tls: Option<Arc<InternalTls>>,
}

impl ClusterSecurity {
    /// The security `config` asks for.
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(ClusterSecurity {
            secret: config.get(&options::CLUSTER_SECRET)?,
            tls: InternalTls::from_config(config)?,
        })
    }

    /// Only a shared secret, no TLS.
    pub fn with_secret(secret: impl Into<String>) -> Self {
        ClusterSecurity {
            secret: secret.into(),
            tls: None,
        }
    }

    /// The client's side of a new connection: TLS if configured.
    pub async fn connect(&self, tcp: TcpStream) -> std::io::Result<Box<dyn Stream>> {
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(tls) => {
                // The name is not checked ([`AnyName`]); rustls needs one.
                let name = ServerName::try_from("eddy-cluster").map_err(std::io::Error::other)?;
                Ok(Box::new(tls.connector.connect(name, tcp).await?))
            }
        }
    }

    /// The server's side of a connection accepted from `peer`: TLS if
    /// configured, within the time a new peer has to say who it is. `None`,
    /// with a log line naming `what` connection it was, when TLS fails.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        what: &str,
    ) -> Option<Box<dyn Stream>> {
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Some(Box::new(tcp));
        };
        match tokio::time::timeout(HELLO_TIMEOUT, tls.acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => Some(Box::new(stream)),
            Ok(Err(e)) => {
                warn!("refused {what} from {peer}: TLS failed: {e}");
                None
            }
            Err(_) => {
                warn!("refused {what} from {peer}: no TLS handshake within {HELLO_TIMEOUT:?}");
                None
            }
        }
    }
}
