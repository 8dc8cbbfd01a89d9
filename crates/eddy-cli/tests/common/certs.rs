//! Certificates for the TLS tests, made by the test itself (rcgen): a CA, and
//! PEM keystores (certificate then key) it signed.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// PEM files of a CA, and of a server and a client certificate it signed.
pub struct Certificates {
    /// The CA's certificate.
    pub ca: PathBuf,
    /// A server's keystore, for 127.0.0.1 and localhost.
    pub server: PathBuf,
    /// A client's keystore.
    pub client: PathBuf,
    /// Another CA's certificate, which signed none of these.
    pub other_ca: PathBuf,
    /// A keystore for every process of a cluster: a server's and a client's.
    pub cluster: PathBuf,
    /// The same, signed by the other CA.
    pub foreign_cluster: PathBuf,
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

pub fn certificates(dir: &Path) -> Certificates {
    let (ca_cert, ca_key) = ca("eddy test CA");
    let (other_cert, other_key) = ca("another CA");
    let signed = |by: (&rcgen::Certificate, &KeyPair),
                  names: Vec<String>,
                  purposes: Vec<ExtendedKeyUsagePurpose>| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = purposes;
        let cert = params.signed_by(&key, by.0, by.1).unwrap();
        // A keystore: the certificate, then its key.
        format!("{}{}", cert.pem(), key.serialize_pem())
    };
    let ours = (&ca_cert, &ca_key);
    let server = signed(
        ours,
        vec!["127.0.0.1".into(), "localhost".into()],
        vec![ExtendedKeyUsagePurpose::ServerAuth],
    );
    let client = signed(
        ours,
        vec!["client".into()],
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    );
    let both = || {
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    };
    let cluster = signed(ours, vec!["eddy-cluster".into()], both());
    let foreign = signed(
        (&other_cert, &other_key),
        vec!["eddy-cluster".into()],
        both(),
    );
    Certificates {
        ca: write(dir, "ca.pem", &ca_cert.pem()),
        server: write(dir, "server.pem", &server),
        client: write(dir, "client.pem", &client),
        other_ca: write(dir, "other-ca.pem", &other_cert.pem()),
        cluster: write(dir, "cluster.pem", &cluster),
        foreign_cluster: write(dir, "foreign-cluster.pem", &foreign),
    }
}
