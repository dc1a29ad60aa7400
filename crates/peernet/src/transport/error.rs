//! Why a transport could not dial or listen: [`TransportError`], and the errors of its QUIC and
//! WebSocket transports that it carries.

use std::io;
use std::time::Duration;

use peernet_core::tls::TlsError;
use peernet_core::{Fault, Multiaddr, PeerId};
use tokio_tungstenite::tungstenite;

use crate::transport::dns::DnsError;
use crate::upgrader::UpgradeError;

/// Why a transport could not dial or listen.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No transport handles this address shape (local misuse, or a peer advertising
    /// addresses we do not speak).
    #[error("no transport for address {0}")]
    Unsupported(Multiaddr),
    /// The operating system refused: connection refused, address in use, unreachable…
    #[error("transport i/o error")]
    Io(#[source] std::io::Error),
    /// The connection was made but the upgrade failed.
    #[error("connection upgrade failed")]
    Upgrade(#[from] UpgradeError),
    /// A QUIC dial, listen or handshake failed; see [`QuicError`] for whose fault.
    #[error("QUIC transport error")]
    Quic(#[source] QuicError),
    /// A WebSocket dial, handshake or stream failed; see [`WsError`] for whose fault.
    #[error("WebSocket transport error")]
    Ws(#[source] WsError),
    /// A `/dns`, `/dns4` or `/dns6` name did not resolve; see [`DnsError`] for whose fault.
    #[error("DNS resolution failed")]
    Dns(#[source] DnsError),
    /// The peer we were asked to reach differs from the `/p2p/` peer in the address (local
    /// misuse).
    #[error("asked to dial {expected} at an address of {in_addr}")]
    PeerIdMismatch {
        /// The peer the caller expects.
        expected: PeerId,
        /// The peer named in the address.
        in_addr: PeerId,
    },
}

impl TransportError {
    /// Who was at fault, as the layer that failed says.
    pub fn fault(&self) -> Fault {
        match self {
            TransportError::Unsupported(_) | TransportError::PeerIdMismatch { .. } => Fault::Local,
            TransportError::Io(_) => Fault::Io,
            TransportError::Upgrade(e) => e.fault(),
            TransportError::Quic(e) => e.fault(),
            TransportError::Ws(e) => e.fault(),
            TransportError::Dns(e) => e.fault(),
        }
    }

    /// `(expected, actual)` when the dial reached, or was asked to reach, another peer than
    /// the one expected: the address names another peer, or the security handshake (or the
    /// QUIC certificate) proved another.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            TransportError::PeerIdMismatch { expected, in_addr } => Some((expected, in_addr)),
            TransportError::Upgrade(e) => e.peer_id_mismatch(),
            TransportError::Quic(e) => e.peer_id_mismatch(),
            _ => None,
        }
    }
}

/// Why a QUIC dial, listen or handshake failed (inside [`TransportError::Quic`]).
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The address is `/udp/…/quic` (draft-29), which we do not speak; only `/quic-v1` is
    /// supported. Local misuse, or a peer advertising an outdated address.
    #[error("QUIC draft-29 (/quic) is not supported, only /quic-v1: {0}")]
    Draft29Unsupported(Multiaddr),
    /// Building the TLS or QUIC configuration failed. Local fault.
    #[error("invalid QUIC configuration: {0}")]
    Config(String),
    /// quinn refused to start the dial (the endpoint is stopping, or the address is invalid).
    /// Local fault.
    #[error("cannot start the QUIC dial")]
    Connect(#[source] quinn::ConnectError),
    /// The handshake failed or the connection was lost during it: the peer refused us, went
    /// away, or the network failed.
    #[error("QUIC handshake failed")]
    Handshake(#[source] quinn::ConnectionError),
    /// The peer's certificate was refused (not a libp2p certificate, a bad signature, or
    /// another peer than the one dialed: [`TlsError::PeerIdMismatch`]). The peer is at fault.
    #[error("peer certificate refused")]
    Certificate(#[source] TlsError),
    /// The handshake did not finish in time (a silent peer or a lossy network).
    #[error("QUIC handshake did not finish within {0:?}")]
    Timeout(Duration),
}

impl QuicError {
    /// Who was at fault.
    pub fn fault(&self) -> Fault {
        match self {
            QuicError::Draft29Unsupported(_) | QuicError::Config(_) | QuicError::Connect(_) => {
                Fault::Local
            }
            QuicError::Handshake(quinn::ConnectionError::LocallyClosed) => Fault::Local,
            QuicError::Handshake(quinn::ConnectionError::VersionMismatch) => Fault::Remote,
            QuicError::Handshake(
                quinn::ConnectionError::TransportError(_)
                | quinn::ConnectionError::ConnectionClosed(_)
                | quinn::ConnectionError::ApplicationClosed(_)
                | quinn::ConnectionError::Reset
                | quinn::ConnectionError::TimedOut,
            ) => Fault::Remote,
            QuicError::Handshake(quinn::ConnectionError::CidsExhausted) => Fault::Limit,
            QuicError::Certificate(_) | QuicError::Timeout(_) => Fault::Remote,
        }
    }

    /// `(expected, actual)` when the remote's certificate proved another peer than the one
    /// dialed.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            QuicError::Certificate(TlsError::PeerIdMismatch { expected, actual }) => {
                Some((expected, actual))
            }
            _ => None,
        }
    }
}

impl From<QuicError> for TransportError {
    fn from(e: QuicError) -> Self {
        TransportError::Quic(e)
    }
}

/// Why a WebSocket dial, listen or stream failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// A secure WebSocket address (`/tls/ws`, `/wss`) was dialed without trusted roots, or
    /// listened on without a certificate, in the transport's [`WsTlsConfig`](crate::WsTlsConfig) (local misuse, or
    /// a peer advertising such an address to a node not set up for it).
    #[error(
        "secure WebSocket needs a TLS configuration (certificate to listen, roots to dial): {0}"
    )]
    TlsNotConfigured(Multiaddr),
    /// The certificate chain or key given to [`WsTlsConfig`](crate::WsTlsConfig) is unusable, or a PEM file could
    /// not be read or held no certificate or key (local misuse).
    #[error("invalid TLS certificate or key: {0}")]
    BadCertificate(String),
    /// The TLS handshake under the WebSocket failed: the peer's certificate is not trusted or
    /// not for the name dialed, the peer does not speak TLS, or the connection failed.
    #[error("TLS handshake failed")]
    Tls(#[source] io::Error),
    /// The WebSocket opening handshake failed (a peer that is not a WebSocket server or client,
    /// or a bad request or response).
    #[error("WebSocket handshake failed")]
    Handshake(#[source] tungstenite::Error),
    /// The peer sent a text message; libp2p carries bytes in binary messages only (peer's fault).
    #[error("peer sent a WebSocket text message")]
    TextFrame,
    /// The peer broke the WebSocket protocol, e.g. sent a message over [`MAX_WS_MESSAGE`](crate::MAX_WS_MESSAGE)
    /// (peer's fault), or the connection failed underneath.
    #[error("WebSocket protocol error")]
    Protocol(#[source] tungstenite::Error),
}

impl WsError {
    /// Who was at fault.
    pub fn fault(&self) -> Fault {
        match self {
            WsError::TlsNotConfigured(_) | WsError::BadCertificate(_) => Fault::Local,
            WsError::Tls(_) | WsError::Handshake(_) => Fault::Remote,
            WsError::TextFrame | WsError::Protocol(_) => Fault::Remote,
        }
    }
}

impl From<WsError> for io::Error {
    fn from(e: WsError) -> io::Error {
        let kind = match &e {
            WsError::Protocol(tungstenite::Error::Io(inner)) => inner.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_error_names_its_fault() {
        let addr: Multiaddr = "/ip4/127.0.0.1/udp/1/quic".parse().unwrap();
        let peer = peernet_core::Keypair::ed25519_from_seed(1).to_peer_id();
        let io = || io::Error::other("x");
        for (e, fault) in [
            (TransportError::Unsupported(addr.clone()), Fault::Local),
            (TransportError::Io(io()), Fault::Io),
            (
                TransportError::Upgrade(UpgradeError::NoSecurity),
                Fault::Local,
            ),
            (
                TransportError::Upgrade(UpgradeError::Timeout(Duration::ZERO)),
                Fault::Remote,
            ),
            (
                TransportError::Quic(QuicError::Draft29Unsupported(addr.clone())),
                Fault::Local,
            ),
            (
                TransportError::Quic(QuicError::Timeout(Duration::ZERO)),
                Fault::Remote,
            ),
            (TransportError::Ws(WsError::TextFrame), Fault::Remote),
            (
                TransportError::Ws(WsError::BadCertificate("x".into())),
                Fault::Local,
            ),
            (
                TransportError::Dns(DnsError::NoAddress { name: "x".into() }),
                Fault::Local,
            ),
            (
                TransportError::PeerIdMismatch {
                    expected: peer.clone(),
                    in_addr: peer.clone(),
                },
                Fault::Local,
            ),
        ] {
            // Exhaustive on purpose: a new variant must be given a case here.
            match &e {
                TransportError::Unsupported(_)
                | TransportError::Io(_)
                | TransportError::Upgrade(_)
                | TransportError::Quic(_)
                | TransportError::Ws(_)
                | TransportError::Dns(_)
                | TransportError::PeerIdMismatch { .. } => {}
            }
            assert_eq!(e.fault(), fault, "{e:?}");
        }
    }
}
