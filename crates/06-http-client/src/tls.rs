//! The TLS settings for https: which certificates we trust, or (`-k`) none at all.
//!
//! A server proves who it is with a certificate chain that ends at a root certificate we
//! trust. By default the roots are Mozilla's list compiled into the program (`webpki-roots`):
//! the same on every machine and independent of the system's certificate store, which is what
//! a teaching tool wants (rustls-platform-verifier would use the system's store instead, as
//! browsers do). `--cacert FILE` replaces them with the certificates in a PEM file, for a local
//! or private certificate authority. `-k` turns verification off, and says loudly what that
//! costs.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Kind, fail};

/// Who we trust.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Mozilla's root certificates (the default).
    WebPkiRoots,
    /// Only the CA certificates in this PEM file (`--cacert`).
    CaFile(std::path::PathBuf),
    /// Nobody is checked (`-k`): encryption without authentication.
    Insecure,
}

/// Builds the client's TLS configuration: TLS 1.2 and 1.3, ring's algorithms, ALPN
/// `http/1.1` (we speak no HTTP/2, so we tell the server so during the handshake).
///
/// # Errors
/// When the `--cacert` file cannot be read or holds no certificate.
pub fn client_config(trust: &Trust) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("ring supports TLS 1.2 and 1.3")?;
    let mut config = match trust {
        Trust::WebPkiRoots => {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CaFile(path) => {
            builder.with_root_certificates(load_ca_file(path)?).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads every certificate in a PEM file. The PEM parser is rustls's own (`pki-types`'
/// `PemObject`), which the older rustls-pemfile crate now only wraps.
fn load_ca_file(path: &Path) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
        fail(Kind::Other, format!("could not read --cacert {}: {e}", path.display()))
    })?;
    for cert in certs {
        let cert =
            cert.map_err(|e| fail(Kind::Other, format!("bad PEM in {}: {e}", path.display())))?;
        roots.add(cert).map_err(|e| {
            fail(Kind::Other, format!("bad certificate in {}: {e}", path.display()))
        })?;
    }
    if roots.is_empty() {
        return Err(fail(Kind::Other, format!("{} holds no certificate", path.display())));
    }
    Ok(roots)
}

/// `-k`: accepts any certificate for any name. The handshake's signatures are still checked
/// (so the session keys are really shared with whoever holds the certificate's key), but
/// nobody vouches for who that is.
#[derive(Debug)]
struct AcceptAnything {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
