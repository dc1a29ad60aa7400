//! libp2p TLS 1.3 (libp2p/specs `tls/tls.md`), on rustls with the ring provider.
//!
//! rustls is itself sans-IO: this module builds the certificates, the verifiers and the
//! [`rustls::ClientConfig`]/[`rustls::ServerConfig`]; the tokio driver in the `peernet` crate
//! feeds bytes through the resulting connections.
//!
//! - Each side presents one self-signed certificate whose key is unrelated to its host key; the
//!   host key travels in the libp2p Public Key Extension (OID `1.3.6.1.4.1.53594.1.1`) with a
//!   signature over `"libp2p-tls-handshake:"` and the certificate's `SubjectPublicKeyInfo`
//!   ([`make_certificate`], [`parse_certificate`], [`SignedKey`]).
//! - Both sides verify the other's certificate with our own verifiers (the server requires
//!   client authentication); the dialer refuses a peer id other than the one it dialed
//!   ([`TlsError::PeerIdMismatch`]).
//! - TLS 1.3 only, no session resumption (every handshake must carry the certificate), no SNI.
//! - ALPN carries the early muxer negotiation (libp2p/specs
//!   `connections/inlined-muxer-negotiation.md`): the muxer ids, then `"libp2p"`. A negotiated
//!   muxer id is returned by [`remote_info`]; `"libp2p"` means "negotiate the muxer with
//!   multistream-select".
//!
//! ```
//! use peernet_core::tls::{make_certificate, parse_certificate};
//! use peernet_core::Keypair;
//!
//! let host = Keypair::generate_ed25519();
//! let (certificate, _private_key) = make_certificate(&host)?;
//! // What the remote side checks: structure, both signatures, then the peer id.
//! let parsed = parse_certificate(&certificate)?;
//! assert_eq!(parsed.peer_id(), &host.public().to_peer_id());
//! # Ok::<(), peernet_core::tls::TlsError>(())
//! ```

mod certificate;
mod config;
mod der;
mod verifier;

#[cfg(test)]
mod tests;

use crate::identity::{KeyError, Keypair, PublicKey};

pub use certificate::{
    make_certificate, make_certificate_at, parse_certificate, P2pCertificate, SignedKey,
    LIBP2P_EXTENSION_OID, SIGNATURE_PREFIX,
};
pub use config::{
    client_config, remote_info, server_config, server_config_for_client_hello, RemoteInfo,
    TlsIdentity, ALPN, PROTOCOL_ID,
};
pub use verifier::{Libp2pCertVerifier, VerifiedCertificates};

use crate::PeerId;

/// Why a TLS certificate or handshake was refused, or a configuration could not be built.
///
/// Unless a variant says otherwise, the remote peer is at fault: it sent a certificate that
/// the spec says to refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The certificate is not a DER-encoded X.509 certificate; `context` names the field that
    /// failed. The peer is at fault.
    #[error("malformed certificate: {context}")]
    MalformedCertificate {
        /// The field being parsed.
        context: &'static str,
    },
    /// The libp2p extension's value is not a DER `SignedKey`; `context` names the field. The
    /// peer is at fault.
    #[error("malformed libp2p extension: {context}")]
    MalformedExtension {
        /// The field being parsed.
        context: &'static str,
    },
    /// The certificate is not X.509 v3. The peer is at fault.
    #[error("certificate is not X.509 v3")]
    UnsupportedVersion,
    /// The algorithm inside `TBSCertificate` differs from the outer `signatureAlgorithm`
    /// (RFC 5280 §4.1.1.2). The peer is at fault.
    #[error("certificate signature algorithms disagree")]
    SignatureAlgorithmMismatch,
    /// The certificate is signed with an algorithm we do not accept (hashes under 256 bits
    /// such as MD5 or SHA-1, RSA-PSS, unknown algorithms, or an algorithm that does not fit the
    /// key). The peer is at fault.
    #[error("unsupported certificate signature algorithm")]
    UnsupportedSignatureAlgorithm,
    /// The certificate key is of a type we do not support (not P-256, P-384, Ed25519 or RSA).
    /// The peer is at fault.
    #[error("unsupported certificate key type")]
    UnsupportedCertificateKey,
    /// An EC certificate key without the `namedCurve` parameter encoding, which the spec
    /// forbids. The peer is at fault.
    #[error("EC certificate key does not use a named curve")]
    NotNamedCurve,
    /// The certificate's self-signature does not verify. The peer is at fault.
    #[error("certificate self-signature is invalid")]
    BadSelfSignature,
    /// The certificate carries `issuerUniqueID` or `subjectUniqueID`. The peer is at fault.
    #[error("certificate carries a deprecated unique id field")]
    UniqueIdPresent,
    /// The certificate has no libp2p Public Key Extension. The peer is at fault (or is not a
    /// libp2p node).
    #[error("certificate lacks the libp2p public key extension")]
    MissingExtension,
    /// An extension appears twice (RFC 5280 §4.2). The peer is at fault.
    #[error("certificate repeats an extension")]
    DuplicateExtension,
    /// A critical extension we do not understand. The peer is at fault.
    #[error("certificate has an unknown critical extension")]
    UnknownCriticalExtension,
    /// The host key in the extension is not a valid protobuf public key. The peer is at fault.
    #[error("invalid host key in the libp2p extension")]
    HostKey(#[source] KeyError),
    /// The host key's signature over the certificate key does not verify. The peer is at fault.
    #[error("libp2p extension signature is invalid")]
    BadExtensionSignature,
    /// The certificate's `NotBefore` lies in the future. The peer (or one of the two clocks) is
    /// at fault.
    #[error("certificate is not yet valid")]
    NotYetValid,
    /// The certificate's `NotAfter` lies in the past. The peer (or one of the two clocks) is at
    /// fault.
    #[error("certificate has expired")]
    Expired,
    /// The peer sent a certificate chain of this many certificates instead of exactly one. The
    /// peer is at fault.
    #[error("expected exactly one certificate, got {0}")]
    CertificateCount(usize),
    /// The peer authenticated as a different peer id than the one dialed. The peer is at fault,
    /// or the dialer's address book is stale.
    #[error("peer id mismatch: dialed {expected}, remote is {actual}")]
    PeerIdMismatch {
        /// The peer id the local side dialed.
        expected: PeerId,
        /// The peer id the remote proved.
        actual: PeerId,
    },
    /// The negotiated ALPN protocol is not UTF-8. The peer is at fault.
    #[error("negotiated ALPN protocol is not UTF-8")]
    InvalidAlpn,
    /// The handshake has not completed, or completed without a peer certificate: [`remote_info`]
    /// was called too early or on a connection not built from this module's configs. The local
    /// caller is at fault.
    #[error("connection has no verified peer certificate")]
    NoPeerCertificate,
    /// Generating the local certificate failed. Local fault (key generation or encoding).
    #[error("certificate generation failed: {0}")]
    CertificateGeneration(String),
    /// rustls refused the configuration. Local fault.
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

impl TlsError {
    /// Who was at fault. Remote for everything about the peer's certificate and handshake; Local for our own certificate, configuration and API use.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            TlsError::MalformedCertificate { .. }
            | TlsError::MalformedExtension { .. }
            | TlsError::UnsupportedVersion
            | TlsError::SignatureAlgorithmMismatch
            | TlsError::UnsupportedSignatureAlgorithm
            | TlsError::UnsupportedCertificateKey
            | TlsError::NotNamedCurve
            | TlsError::BadSelfSignature
            | TlsError::UniqueIdPresent
            | TlsError::MissingExtension
            | TlsError::DuplicateExtension
            | TlsError::UnknownCriticalExtension
            | TlsError::HostKey(..)
            | TlsError::BadExtensionSignature
            | TlsError::NotYetValid
            | TlsError::Expired
            | TlsError::CertificateCount(..)
            | TlsError::PeerIdMismatch { .. }
            | TlsError::InvalidAlpn => Fault::Remote,
            TlsError::NoPeerCertificate
            | TlsError::CertificateGeneration(..)
            | TlsError::Config(..) => Fault::Local,
        }
    }
}
