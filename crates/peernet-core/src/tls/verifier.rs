//! The certificate verifier used on both sides of a libp2p TLS handshake.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls::{PeerIncompatible, SignatureScheme};

use super::certificate::{certificate_spki, parse_certificate, P2pCertificate};
use super::TlsError;
use crate::PeerId;

/// Verifies the peer's libp2p certificate instead of a chain to a trust anchor.
///
/// As a [`ServerCertVerifier`] (dialer side) it also refuses a server whose peer id differs
/// from the expected one; as a [`ClientCertVerifier`] (listener side) it requires a client
/// certificate. Refusals are [`rustls::Error::InvalidCertificate`] wrapping a [`TlsError`] in
/// [`CertificateError::Other`]; [`TlsError::from_rustls`] gets it back.
#[derive(Debug)]
pub struct Libp2pCertVerifier {
    expected_peer: Option<PeerId>,
    algorithms: WebPkiSupportedAlgorithms,
    verified: Option<Arc<VerifiedCertificates>>,
}

impl Libp2pCertVerifier {
    /// A verifier accepting any peer (`None`) or only `expected_peer`.
    pub fn new(expected_peer: Option<PeerId>) -> Self {
        Libp2pCertVerifier {
            expected_peer,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            verified: None,
        }
    }

    /// Remembers certificates that passed [`parse_certificate`] in `verified`, so that a peer
    /// presenting the same certificate again (implementations reuse theirs across
    /// connections) costs no public-key operation beyond the handshake's own signature. The
    /// validity period and the expected peer are still checked on every handshake.
    pub fn with_cache(mut self, verified: Arc<VerifiedCertificates>) -> Self {
        self.verified = Some(verified);
        self
    }

    /// All the checks of a presented chain: exactly one certificate, valid at `now`, passing
    /// [`parse_certificate`], and authenticating the expected peer if there is one.
    pub fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<P2pCertificate, TlsError> {
        if !intermediates.is_empty() {
            return Err(TlsError::CertificateCount(
                intermediates.len().saturating_add(1),
            ));
        }
        let certificate = match &self.verified {
            Some(cache) => cache.parse(end_entity)?,
            None => parse_certificate(end_entity)?,
        };
        certificate.check_validity(now)?;
        if let Some(expected) = &self.expected_peer {
            if certificate.peer_id() != expected {
                return Err(TlsError::PeerIdMismatch {
                    expected: expected.clone(),
                    actual: certificate.peer_id().clone(),
                });
            }
        }
        Ok(certificate)
    }

    /// Verifies the TLS 1.3 `CertificateVerify` signature with the certificate key.
    fn verify_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let spki = certificate_spki(cert).map_err(to_rustls)?;
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki),
            dss,
            &self.algorithms,
        )
    }
}

/// A bounded memory of certificates that passed [`parse_certificate`] (both signatures
/// verified), keyed by the SHA-256 of their DER encoding: the result of parsing is a function
/// of the bytes alone, so identical bytes need not be verified twice. Refused certificates
/// are not remembered. When full, the oldest entry makes room.
#[derive(Debug)]
pub struct VerifiedCertificates {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    by_digest: HashMap<[u8; 32], P2pCertificate>,
    order: VecDeque<[u8; 32]>,
}

impl VerifiedCertificates {
    /// Certificates a [`TlsIdentity`](super::TlsIdentity) remembers: 256, a few hundred
    /// bytes each.
    pub const DEFAULT_CAPACITY: usize = 256;

    /// An empty cache holding at most `capacity` certificates.
    pub fn new(capacity: usize) -> Self {
        VerifiedCertificates {
            capacity,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// [`parse_certificate`], answered from memory when these bytes passed before.
    ///
    /// # Errors
    ///
    /// As [`parse_certificate`].
    pub fn parse(&self, der: &[u8]) -> Result<P2pCertificate, TlsError> {
        let digest: [u8; 32] = Sha256::digest(der).into();
        if let Some(hit) = self.lock().by_digest.get(&digest) {
            return Ok(hit.clone());
        }
        let certificate = parse_certificate(der)?;
        if self.capacity > 0 {
            let mut inner = self.lock();
            if !inner.by_digest.contains_key(&digest) {
                while inner.order.len() >= self.capacity {
                    if let Some(oldest) = inner.order.pop_front() {
                        inner.by_digest.remove(&oldest);
                    }
                }
                inner.order.push_back(digest);
                inner.by_digest.insert(digest, certificate.clone());
            }
        }
        Ok(certificate)
    }

    /// Certificates remembered now.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // The map and the queue are updated together under the lock; a panic elsewhere
        // cannot leave them inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Wraps a refusal so that rustls sends a `bad_certificate` alert and the caller can recover it.
fn to_rustls(error: TlsError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(error))))
}

impl TlsError {
    /// The [`TlsError`] inside a rustls error produced by [`Libp2pCertVerifier`], if any.
    pub fn from_rustls(error: &rustls::Error) -> Option<&TlsError> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
                other.0.downcast_ref::<TlsError>()
            }
            _ => None,
        }
    }
}

impl ServerCertVerifier for Libp2pCertVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verify_chain(end_entity, intermediates, now)
            .map(|_| ServerCertVerified::assertion())
            .map_err(to_rustls)
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is configured: rustls never gets here.
        Err(rustls::Error::PeerIncompatible(
            PeerIncompatible::Tls12NotOfferedOrEnabled,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for Libp2pCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verify_chain(end_entity, intermediates, now)
            .map(|_| ClientCertVerified::assertion())
            .map_err(to_rustls)
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(
            PeerIncompatible::Tls12NotOfferedOrEnabled,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
