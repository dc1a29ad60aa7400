//! rustls configurations for both roles, and what a finished handshake tells about the peer.

use std::sync::Arc;

use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, NoServerSessionStorage, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, CommonState, ServerConfig, SignatureScheme};

use super::certificate::{make_certificate, parse_certificate};
use super::verifier::{Libp2pCertVerifier, VerifiedCertificates};
use super::{Keypair, PublicKey, TlsError};
use crate::PeerId;

/// The multistream-select protocol id of this security protocol.
pub const PROTOCOL_ID: &str = "/tls/1.0.0";

/// The ALPN protocol every libp2p TLS endpoint offers, last: selecting it means the muxer is
/// negotiated afterwards with multistream-select.
pub const ALPN: &[u8] = b"libp2p";

/// What the handshake proved about the remote peer.
#[derive(Debug, Clone)]
pub struct RemoteInfo {
    /// The remote's peer id, from the host key in its certificate.
    pub peer_id: PeerId,
    /// The remote's host public key.
    pub public_key: PublicKey,
    /// The muxer agreed on through ALPN (such as `/yamux/1.0.0`), or `None` when ALPN settled
    /// on `"libp2p"` (or on nothing) and the muxer must be negotiated with multistream-select.
    pub muxer: Option<String>,
}

/// The ring provider with its TLS 1.3 suites in our order of preference: AES-128-GCM (the
/// fastest with AES instructions: 10 rounds against AES-256's 14; Go's TLS prefers it too),
/// AES-256-GCM, then ChaCha20-Poly1305. The server follows the client's order, so a client
/// without AES hardware that prefers ChaCha20 gets it.
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::cipher_suite;
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(provider)
}

/// The ALPN list: the muxers in order of preference, then `"libp2p"`.
fn alpn_protocols(muxers: &[&str]) -> Vec<Vec<u8>> {
    muxers
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .filter(|m| m.as_slice() != ALPN)
        .chain(std::iter::once(ALPN.to_vec()))
        .collect()
}

fn config_error(error: rustls::Error) -> TlsError {
    TlsError::Config(error.to_string())
}

/// Always presents the one certificate. (rustls' `with_single_cert` would run the certificate
/// through webpki, which refuses the critical libp2p extension it does not know.)
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl OneCertificate {
    /// A fresh certificate for `keypair`, its key loaded by `provider`.
    fn generate(keypair: &Keypair, provider: &CryptoProvider) -> Result<Arc<Self>, TlsError> {
        let (certificate, key) = make_certificate(keypair)?;
        let key = provider
            .key_provider
            .load_private_key(key)
            .map_err(config_error)?;
        Ok(Arc::new(OneCertificate(Arc::new(CertifiedKey::new(
            vec![certificate],
            key,
        )))))
    }
}

impl ResolvesClientCert for OneCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// The local side of libp2p TLS: a certificate for a host key, made once and presented on
/// every connection (the spec allows reusing it; go-libp2p does the same), plus the provider.
///
/// Making a certificate costs a key generation and two signatures; a transport that upgrades
/// many connections keeps one `TlsIdentity` and builds each connection's config from it.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    provider: Arc<CryptoProvider>,
    certificate: Arc<OneCertificate>,
    /// Peer certificates verified before, shared by every connection of this identity.
    verified: Arc<VerifiedCertificates>,
}

impl TlsIdentity {
    /// Makes the certificate for `keypair` (see [`make_certificate`]).
    pub fn new(keypair: &Keypair) -> Result<TlsIdentity, TlsError> {
        let provider = provider();
        let certificate = OneCertificate::generate(keypair, &provider)?;
        Ok(TlsIdentity {
            provider,
            certificate,
            verified: Arc::new(VerifiedCertificates::new(
                VerifiedCertificates::DEFAULT_CAPACITY,
            )),
        })
    }

    /// A verifier of peer certificates (any peer, or only `expected`) that shares this
    /// identity's memory of certificates already verified.
    pub fn verifier(&self, expected: Option<PeerId>) -> Libp2pCertVerifier {
        Libp2pCertVerifier::new(expected).with_cache(Arc::clone(&self.verified))
    }

    /// The dialer's configuration: this identity's certificate, verification of the server's
    /// certificate (refusing any peer other than `expected` when given), ALPN `muxers` then
    /// `"libp2p"`, TLS 1.3 only, no SNI, no resumption.
    ///
    /// The server name passed to [`rustls::ClientConnection::new`] is neither sent nor
    /// checked.
    pub fn client_config(
        &self,
        expected: Option<PeerId>,
        muxers: &[&str],
    ) -> Result<ClientConfig, TlsError> {
        let mut config =
            ClientConfig::builder_with_provider(Arc::clone(&self.provider))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(config_error)?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(self.verifier(expected)))
                .with_client_cert_resolver(
                    Arc::clone(&self.certificate) as Arc<dyn ResolvesClientCert>
                );
        config.alpn_protocols = alpn_protocols(muxers);
        // Resuming would skip the certificate, hence the peer's authentication.
        config.resumption = Resumption::disabled();
        // "clients ... MUST NOT send any value in the Server Name Indication."
        config.enable_sni = false;
        config.enable_early_data = false;
        Ok(config)
    }

    /// The listener's configuration: this identity's certificate, mandatory client
    /// authentication with the libp2p verifier, ALPN `muxers` then `"libp2p"`, TLS 1.3 only,
    /// no tickets or session cache. SNI is ignored.
    ///
    /// rustls picks the first of *our* ALPN protocols that the client offers; the spec asks
    /// for the client's preference, which [`server_config_for_client_hello`] provides.
    pub fn server_config(&self, muxers: &[&str]) -> Result<ServerConfig, TlsError> {
        self.server_config_with_verifier(muxers, Arc::new(self.verifier(None)))
    }

    /// [`server_config`](Self::server_config) with another client certificate verifier (the
    /// QUIC listener defers the libp2p checks to after the handshake, to report them typed).
    pub fn server_config_with_verifier(
        &self,
        muxers: &[&str],
        verifier: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    ) -> Result<ServerConfig, TlsError> {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(config_error)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::clone(&self.certificate) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = alpn_protocols(muxers);
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        config.max_early_data_size = 0;
        Ok(config)
    }
}

/// [`TlsIdentity::client_config`] with a fresh certificate for `keypair`.
pub fn client_config(
    keypair: &Keypair,
    expected: Option<PeerId>,
    muxers: &[&str],
) -> Result<ClientConfig, TlsError> {
    TlsIdentity::new(keypair)?.client_config(expected, muxers)
}

/// [`TlsIdentity::server_config`] with a fresh certificate for `keypair`.
pub fn server_config(keypair: &Keypair, muxers: &[&str]) -> Result<ServerConfig, TlsError> {
    TlsIdentity::new(keypair)?.server_config(muxers)
}

/// Adapts `base` to the ALPN list a client offered (read from its ClientHello, for instance
/// with [`rustls::server::Acceptor`]) so that the server picks the client's most preferred
/// protocol it supports ("The server SHOULD respect the client's preference").
///
/// Returns `base` itself when no reordering is needed.
pub fn server_config_for_client_hello<'a>(
    base: &Arc<ServerConfig>,
    offered: Option<impl Iterator<Item = &'a [u8]>>,
) -> Arc<ServerConfig> {
    let Some(offered) = offered else {
        return Arc::clone(base);
    };
    let mut ordered: Vec<Vec<u8>> = Vec::with_capacity(base.alpn_protocols.len());
    for protocol in offered {
        if base.alpn_protocols.iter().any(|p| p.as_slice() == protocol)
            && !ordered.iter().any(|p| p.as_slice() == protocol)
        {
            ordered.push(protocol.to_vec());
        }
    }
    let ours_first = base.alpn_protocols.iter().find(|p| ordered.contains(p));
    if ordered.is_empty() || ours_first == ordered.first() {
        // Nothing in common (rustls will refuse with no_application_protocol) or our own order
        // already picks the client's favourite.
        return Arc::clone(base);
    }
    let mut config = ServerConfig::clone(base);
    config.alpn_protocols = ordered;
    Arc::new(config)
}

/// The remote peer and negotiated muxer of a connection whose handshake has completed with
/// [`client_config`] or [`server_config`]. The certificate is parsed again (it was verified
/// during the handshake; this costs two signature verifications).
pub fn remote_info(connection: &CommonState) -> Result<RemoteInfo, TlsError> {
    let certificates = connection
        .peer_certificates()
        .ok_or(TlsError::NoPeerCertificate)?;
    let [certificate] = certificates else {
        return Err(TlsError::CertificateCount(certificates.len()));
    };
    let certificate = parse_certificate(certificate)?;
    let muxer = match connection.alpn_protocol() {
        None | Some(ALPN) => None,
        Some(protocol) => Some(
            std::str::from_utf8(protocol)
                .map_err(|_| TlsError::InvalidAlpn)?
                .to_owned(),
        ),
    };
    Ok(RemoteInfo {
        peer_id: certificate.peer_id().clone(),
        public_key: certificate.public_key().clone(),
        muxer,
    })
}
