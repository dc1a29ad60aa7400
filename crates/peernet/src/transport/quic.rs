//! The QUIC v1 transport: `/ip4|ip6/<addr>/udp/<port>/quic-v1` (with an optional trailing
//! `/p2p/<id>`), on quinn, as libp2p/specs `quic/README.md` describes it.
//!
//! - TLS 1.3 inside QUIC with the libp2p certificate and verifiers of
//!   [`peernet_core::tls`], ALPN `"libp2p"` only. Both sides authenticate: the listener
//!   requires a client certificate, the dialer refuses a peer other than the expected one
//!   during the handshake ([`QuicError::Certificate`] with [`TlsError::PeerIdMismatch`]).
//!   A certificate without the libp2p extension or with a bad extension signature is a typed
//!   [`QuicError::Certificate`] on both sides: the dialer keeps its verifier's verdict, the
//!   listener checks the client's certificate right after the handshake and closes with
//!   [`QUIC_CERTIFICATE_REFUSED`] and the reason before handing the connection out.
//! - No multistream-select round for security or muxer: QUIC's bidirectional streams are the
//!   connection's streams, and each is negotiated to an application protocol with
//!   multistream-select exactly like a yamux stream. [`Connection::security`] reports
//!   `/tls/1.0.0` and [`Connection::muxer`] reports [`QUIC_MUXER`] (`quic-v1`).
//! - One UDP socket (quinn endpoint) per listen address, shared by listening and dialing: a
//!   dial leaves from a listening endpoint of the same address family when there is one (needed
//!   for hole punching), otherwise from a client-only endpoint bound to an ephemeral port.
//! - `/udp/<port>/quic` (draft-29) is recognised and refused with
//!   [`QuicError::Draft29Unsupported`].
//! - GSO/GRO and ECN come from quinn's defaults where the kernel offers them.
//!
//! The defaults of [`QuicConfig`] follow go-libp2p for windows and stream limits, and notice a
//! vanished peer within seconds: keep-alive every 5 s, idle timeout 15 s (rust-libp2p's 30 s
//! default is a known complaint).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::tls::{Libp2pCertVerifier, P2pCertificate, TlsError, TlsIdentity};
use peernet_core::{Keypair, PeerId};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use tokio::sync::{mpsc, Semaphore};

use crate::connection::{Connection, ConnectionInfo};
use crate::ids::Direction;
use crate::transport::error::{QuicError, TransportError};
use crate::transport::shared::{expected_peer, Listener};

/// What [`Connection::muxer`] reports for QUIC connections.
pub const QUIC_MUXER: &str = "quic-v1";

/// What [`Connection::security`] reports for QUIC connections.
const QUIC_SECURITY: &str = peernet_core::tls::PROTOCOL_ID;

/// Upgraded connections waiting for [`Listener::accept`].
const ACCEPT_QUEUE: usize = 16;

/// Options of the QUIC transport.
#[derive(Debug, Clone)]
pub struct QuicConfig {
    /// Bytes a peer may send on one stream ahead of our reads (16 MiB, as go-libp2p's maximum).
    pub stream_receive_window: u32,
    /// Bytes a peer may send on the whole connection ahead of our reads (24 MiB, as go-libp2p's
    /// maximum). Also used as our send window.
    pub connection_receive_window: u32,
    /// Bidirectional streams the peer may have open at once (256, as go-libp2p). Opening more
    /// waits until one ends. Unidirectional streams are not used by libp2p and are refused.
    pub max_concurrent_streams: u32,
    /// How often an idle connection sends a keep-alive (PING frame): 5 s.
    pub keep_alive_interval: Duration,
    /// How long without hearing from the peer before the connection is declared dead: 15 s.
    /// Each side proposes its own; the smaller applies. With keep-alives flowing, a live but idle
    /// peer never reaches it, and a vanished one is noticed within this time.
    pub idle_timeout: Duration,
    /// Receive and send buffer size asked of the kernel for each UDP socket: 7 MiB, as quic-go
    /// asks (Linux grants at most `net.core.rmem_max` / `wmem_max`). The default of about
    /// 200 KiB overflows, dropping packets, once a single connection runs at gigabits.
    pub socket_buffer_size: usize,
    /// Time a handshake gets, dialing or accepting: 15 s.
    pub handshake_timeout: Duration,
    /// Inbound handshakes in progress at once, per transport (64); further incoming connections
    /// wait in quinn's bounded queue.
    pub max_inbound_handshakes: usize,
}

impl Default for QuicConfig {
    fn default() -> Self {
        QuicConfig {
            stream_receive_window: 16 * 1024 * 1024,
            connection_receive_window: 24 * 1024 * 1024,
            max_concurrent_streams: 256,
            keep_alive_interval: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            socket_buffer_size: 7 << 20,
            handshake_timeout: Duration::from_secs(15),
            max_inbound_handshakes: 64,
        }
    }
}

/// Extracts the UDP socket address of a QUIC v1 multiaddr, refusing anything that is not
/// exactly `/ip4|ip6/…/udp/…/quic-v1` optionally followed by `/p2p/…`.
fn quic_socket_addr(addr: &Multiaddr) -> Result<SocketAddr, TransportError> {
    let unsupported = || TransportError::Unsupported(addr.clone());
    let mut iter = addr.iter();
    let ip = match iter.next() {
        Some(Protocol::Ip4(ip)) => IpAddr::V4(ip),
        Some(Protocol::Ip6(ip)) => IpAddr::V6(ip),
        _ => return Err(unsupported()),
    };
    let Some(Protocol::Udp(port)) = iter.next() else {
        return Err(unsupported());
    };
    let draft29 = match iter.next() {
        Some(Protocol::QuicV1) => false,
        Some(Protocol::Quic) => true,
        _ => return Err(unsupported()),
    };
    match iter.next() {
        None | Some(Protocol::P2p(_)) if iter.next().is_none() => {}
        _ => return Err(unsupported()),
    }
    if draft29 {
        return Err(QuicError::Draft29Unsupported(addr.clone()).into());
    }
    Ok(SocketAddr::new(ip, port))
}

/// What the dialer's verifier concluded about the server's certificate.
type Verdict = Arc<Mutex<Option<Result<P2pCertificate, TlsError>>>>;

/// The dialer's certificate verifier: [`Libp2pCertVerifier`], keeping its verdict so the dial
/// can report a refusal as a typed error (quinn only reports the TLS alert) and use the
/// verified certificate without parsing it again.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Libp2pCertVerifier,
    verdict: Verdict,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let _ = (server_name, ocsp_response);
        let verdict = self.inner.verify_chain(end_entity, intermediates, now);
        let result = match &verdict {
            Ok(_) => Ok(ServerCertVerified::assertion()),
            // As Libp2pCertVerifier reports it: a bad_certificate alert carrying the reason.
            Err(e) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(e.clone())),
            ))),
        };
        if let Ok(mut slot) = self.verdict.lock() {
            *slot = Some(verdict);
        }
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls12_signature(&self.inner, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ServerCertVerifier::verify_tls13_signature(&self.inner, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ServerCertVerifier::supported_verify_schemes(&self.inner)
    }
}

/// The listener's client certificate verifier. quinn reports a refusal inside the TLS
/// handshake only as an alert, so the libp2p checks of the client's certificate
/// ([`Libp2pCertVerifier::verify_chain`]) run right after the handshake instead, in
/// `established`, where a refusal is a typed [`QuicError::Certificate`] and closes the
/// connection before it is handed out. The handshake still proves that the client holds the
/// certificate's key: its `CertificateVerify` signature is checked here as usual, except for a
/// certificate too malformed to take its key from, which `established` refuses anyway.
#[derive(Debug)]
struct DeferredClientVerifier {
    inner: Libp2pCertVerifier,
}

impl ClientCertVerifier for DeferredClientVerifier {
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
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Checked in `established`, before the connection exists for anyone.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        ClientCertVerifier::verify_tls12_signature(&self.inner, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match ClientCertVerifier::verify_tls13_signature(&self.inner, message, cert, dss) {
            // The certificate failed the structural checks (no libp2p extension, malformed…)
            // before the signature could be checked: `established` runs the same checks and
            // refuses the connection with this very error, so let the handshake finish.
            Err(e) if TlsError::from_rustls(&e).is_some() => {
                Ok(HandshakeSignatureValid::assertion())
            }
            other => other,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ClientCertVerifier::supported_verify_schemes(&self.inner)
    }
}

/// The transport's endpoints: listening ones (by registration id) and the client-only ones.
#[derive(Default)]
struct Endpoints {
    next_id: u64,
    listening: Vec<(u64, quinn::Endpoint)>,
    client_v4: Option<quinn::Endpoint>,
    client_v6: Option<quinn::Endpoint>,
}

struct Inner {
    local_peer: PeerId,
    config: QuicConfig,
    endpoint_config: quinn::EndpointConfig,
    identity: TlsIdentity,
    transport: Arc<quinn::TransportConfig>,
    server: quinn::ServerConfig,
    endpoints: Mutex<Endpoints>,
    handshakes: Arc<Semaphore>,
}

/// The QUIC v1 transport. Cheap to clone: clones share the endpoints.
#[derive(Clone)]
pub struct QuicTransport {
    inner: Arc<Inner>,
}

impl fmt::Debug for QuicTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicTransport")
            .field("config", &self.inner.config)
            .finish()
    }
}

fn config_error(e: impl fmt::Display) -> QuicError {
    QuicError::Config(e.to_string())
}

fn transport_config(config: &QuicConfig) -> Result<quinn::TransportConfig, QuicError> {
    let idle = quinn::IdleTimeout::try_from(config.idle_timeout).map_err(config_error)?;
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(config.max_concurrent_streams))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
        .stream_receive_window(quinn::VarInt::from_u32(config.stream_receive_window))
        .receive_window(quinn::VarInt::from_u32(config.connection_receive_window))
        .send_window(u64::from(config.connection_receive_window))
        .keep_alive_interval(Some(config.keep_alive_interval))
        .max_idle_timeout(Some(idle))
        .datagram_receive_buffer_size(None);
    Ok(t)
}

impl QuicTransport {
    /// A QUIC transport for `keypair`: makes its libp2p TLS certificate (presented on every
    /// connection) and the QUIC configuration.
    pub fn new(keypair: &Keypair, config: QuicConfig) -> Result<QuicTransport, QuicError> {
        let identity = TlsIdentity::new(keypair).map_err(QuicError::Certificate)?;
        let transport = Arc::new(transport_config(&config)?);
        let verifier = Arc::new(DeferredClientVerifier {
            inner: Libp2pCertVerifier::new(None),
        });
        let tls = identity
            .server_config_with_verifier(&[], verifier)
            .map_err(config_error)?;
        let crypto = QuicServerConfig::try_from(tls).map_err(config_error)?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server.transport_config(Arc::clone(&transport));
        let endpoint_config = quinn::EndpointConfig::default();
        Ok(QuicTransport {
            inner: Arc::new(Inner {
                local_peer: keypair.to_peer_id(),
                endpoint_config,
                handshakes: Arc::new(Semaphore::new(config.max_inbound_handshakes)),
                config,
                identity,
                transport,
                server,
                endpoints: Mutex::new(Endpoints::default()),
            }),
        })
    }

    /// The identity this transport presents in its certificate.
    pub fn local_peer(&self) -> &PeerId {
        &self.inner.local_peer
    }

    /// Whether this transport dials and listens on `addr` (`/quic-v1` only).
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        quic_socket_addr(addr).is_ok()
    }

    fn endpoints(&self) -> std::sync::MutexGuard<'_, Endpoints> {
        // A panic while holding the lock cannot leave the list inconsistent: use it anyway.
        self.inner
            .endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A quinn endpoint on a new UDP socket bound to `addr`, with enlarged kernel buffers.
    fn endpoint(
        &self,
        addr: SocketAddr,
        server: Option<quinn::ServerConfig>,
    ) -> std::io::Result<quinn::Endpoint> {
        use socket2::{Domain, Protocol as IpProtocol, Socket, Type};
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::DGRAM,
            Some(IpProtocol::UDP),
        )?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        let size = self.inner.config.socket_buffer_size;
        // Best effort: the kernel may grant less, which only costs throughput.
        if let Err(e) = socket
            .set_recv_buffer_size(size)
            .and_then(|()| socket.set_send_buffer_size(size))
        {
            tracing::debug!(error = %e, "cannot enlarge the UDP socket buffers");
        }
        socket.bind(&addr.into())?;
        let socket: UdpSocket = socket.into();
        quinn::Endpoint::new(
            self.inner.endpoint_config.clone(),
            server,
            socket,
            Arc::new(quinn::TokioRuntime),
        )
    }

    /// The endpoint a dial to `remote` leaves from: a listening one of the same family that
    /// can reach it, else the (lazily bound) client endpoint of that family.
    fn endpoint_for(&self, remote: SocketAddr) -> std::io::Result<quinn::Endpoint> {
        let mut endpoints = self.endpoints();
        let reachable = |local: SocketAddr| {
            local.is_ipv4() == remote.is_ipv4()
                && (local.ip().is_unspecified()
                    || local.ip().is_loopback() == remote.ip().is_loopback())
        };
        for (_, endpoint) in &endpoints.listening {
            if endpoint.local_addr().is_ok_and(reachable) {
                return Ok(endpoint.clone());
            }
        }
        let (slot, bind) = if remote.is_ipv4() {
            (
                &mut endpoints.client_v4,
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            )
        } else {
            (
                &mut endpoints.client_v6,
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
            )
        };
        if let Some(endpoint) = slot {
            return Ok(endpoint.clone());
        }
        let endpoint = self.endpoint(bind, None)?;
        *slot = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// Dials `addr` over QUIC v1. The remote must be `expected`, or the peer in the address's
    /// `/p2p/` suffix; with neither, any authenticated peer is accepted. A mismatch fails the
    /// handshake with [`QuicError::Certificate`]`(`[`TlsError::PeerIdMismatch`]`)`.
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, TransportError> {
        let socket_addr = quic_socket_addr(addr)?;
        let expected = expected_peer(addr, expected)?;
        let endpoint = self.endpoint_for(socket_addr).map_err(TransportError::Io)?;
        let verdict: Verdict = Arc::new(Mutex::new(None));
        let mut tls = self
            .inner
            .identity
            .client_config(None, &[])
            .map_err(config_error)?;
        tls.dangerous()
            .set_certificate_verifier(Arc::new(RecordingVerifier {
                inner: self.inner.identity.verifier(expected.clone()),
                verdict: Arc::clone(&verdict),
            }));
        let crypto = QuicClientConfig::try_from(tls).map_err(config_error)?;
        let mut client = quinn::ClientConfig::new(Arc::new(crypto));
        client.transport_config(Arc::clone(&self.inner.transport));
        // The server name is neither sent (no SNI) nor checked (our verifier ignores it).
        let started = Instant::now();
        let connecting = endpoint
            .connect_with(client, socket_addr, "libp2p")
            .map_err(QuicError::Connect)?;
        let timeout = self.inner.config.handshake_timeout;
        let connection = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => return Err(QuicError::Timeout(timeout).into()),
            Ok(Err(e)) => {
                let refused = verdict.lock().ok().and_then(|mut slot| slot.take());
                return Err(match refused {
                    Some(Err(refusal)) => QuicError::Certificate(refusal),
                    _ => QuicError::Handshake(e),
                }
                .into());
            }
            Ok(Ok(connection)) => connection,
        };
        let kept = verdict
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .and_then(Result::ok);
        // The verifier always keeps its verdict; checking the presented certificate again is
        // only a fallback.
        let verified = match kept {
            Some(verified) => verified,
            None => parse_presented(&connection, &self.inner.identity.verifier(expected))?,
        };
        Ok(established(
            connection,
            &endpoint,
            (Direction::Outbound, started),
            verified,
        )?)
    }

    /// Binds a UDP socket on `addr` (port 0 picks a free port) and starts accepting QUIC
    /// connections on it; each handshake runs on its own task (at most
    /// [`QuicConfig::max_inbound_handshakes`] at once). Dials to the same address family leave
    /// from this socket while the listener lives.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        let socket_addr = quic_socket_addr(addr)?;
        let endpoint = self
            .endpoint(socket_addr, Some(self.inner.server.clone()))
            .map_err(TransportError::Io)?;
        let local = endpoint.local_addr().map_err(TransportError::Io)?;
        let id = {
            let mut endpoints = self.endpoints();
            endpoints.next_id += 1;
            let id = endpoints.next_id;
            endpoints.listening.push((id, endpoint.clone()));
            id
        };
        let registration = Registration {
            transport: self.clone(),
            endpoint: endpoint.clone(),
            id,
        };
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let task = tokio::spawn(accept_loop(endpoint, registration, tx));
        Ok(Listener::new(Multiaddr::quic_v1(local), rx, task))
    }
}

/// Removes a listening endpoint from the transport when its listener goes away, and stops it
/// from accepting; connections already made on it live on.
struct Registration {
    transport: QuicTransport,
    endpoint: quinn::Endpoint,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.endpoint.set_server_config(None);
        self.transport
            .endpoints()
            .listening
            .retain(|(id, _)| *id != self.id);
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    registration: Registration,
    tx: mpsc::Sender<Connection>,
) {
    let inner = Arc::clone(&registration.transport.inner);
    loop {
        let Ok(permit) = Arc::clone(&inner.handshakes).acquire_owned().await else {
            return;
        };
        let incoming = tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => incoming,
                None => return,
            },
            () = tx.closed() => return,
        };
        let tx = tx.clone();
        let endpoint = endpoint.clone();
        let timeout = inner.config.handshake_timeout;
        let verifier = inner.identity.verifier(None);
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            let started = Instant::now();
            let result = async {
                let connecting = incoming.accept().map_err(QuicError::Handshake)?;
                match tokio::time::timeout(timeout, connecting).await {
                    Err(_) => Err(QuicError::Timeout(timeout)),
                    Ok(Err(e)) => Err(QuicError::Handshake(e)),
                    Ok(Ok(connection)) => {
                        let verified = parse_presented(&connection, &verifier)?;
                        let started = (Direction::Inbound, started);
                        established(connection, &endpoint, started, verified)
                    }
                }
            }
            .await;
            drop(permit);
            match result {
                Ok(conn) => {
                    let _ = tx.send(conn).await;
                }
                Err(e) => {
                    tracing::debug!(%remote, error = %peernet_core::error::Chain(&e), "inbound QUIC handshake failed")
                }
            }
        });
    }
}

/// Builds the [`Connection`] of a finished handshake from the peer's verified certificate:
/// the one our verifier kept (dialing), or the presented one checked right after the
/// handshake ([`parse_presented`], accepting).
fn established(
    connection: quinn::Connection,
    endpoint: &quinn::Endpoint,
    (direction, started): (Direction, Instant),
    parsed: P2pCertificate,
) -> Result<Connection, QuicError> {
    let mut local = endpoint
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    if local.ip().is_unspecified() {
        // quinn knows the local IP only where the socket reports packet destinations; a
        // loopback peer is reached from loopback in any case.
        let remote = connection.remote_address().ip();
        if let Some(ip) = connection.local_ip() {
            local.set_ip(ip);
        } else if remote.is_loopback() {
            local.set_ip(remote);
        }
    }
    let info = ConnectionInfo {
        id: crate::ids::next_connection_id(),
        remote_peer: parsed.peer_id().clone(),
        remote_public_key: parsed.public_key().clone(),
        remote_addr: Multiaddr::quic_v1(connection.remote_address()),
        local_addr: Multiaddr::quic_v1(local),
        direction,
        security: QUIC_SECURITY,
        muxer: QUIC_MUXER,
        opened_at: Instant::now(),
        streams: Default::default(),
        gated: false,
        handshake: started.elapsed(),
        metrics: Default::default(),
        resources: Default::default(),
    };
    tracing::debug!(peer = %info.remote_peer, remote = %info.remote_addr, ?direction, "QUIC connection established");
    Ok(Connection::new_quic(info, connection))
}

/// Verifies the certificate the peer presented in a finished handshake (every libp2p check:
/// one certificate, valid now, a correctly signed libp2p extension); closes the connection
/// with the reason if it fails.
fn parse_presented(
    connection: &quinn::Connection,
    verifier: &Libp2pCertVerifier,
) -> Result<P2pCertificate, QuicError> {
    let refuse = |e: TlsError| {
        let reason = format!("certificate refused: {e}");
        connection.close(QUIC_CERTIFICATE_REFUSED, reason.as_bytes());
        QuicError::Certificate(e)
    };
    let certificates = connection
        .peer_identity()
        .and_then(|identity| identity.downcast::<Vec<CertificateDer<'static>>>().ok())
        .ok_or_else(|| refuse(TlsError::NoPeerCertificate))?;
    let [certificate] = certificates.as_slice() else {
        return Err(refuse(TlsError::CertificateCount(certificates.len())));
    };
    verifier
        .verify_chain(certificate, &[], UnixTime::now())
        .map_err(refuse)
}

/// The application error code a listener closes with when the client's certificate is refused
/// (the reason phrase carries the [`TlsError`]).
pub const QUIC_CERTIFICATE_REFUSED: quinn::VarInt = quinn::VarInt::from_u32(0x100);
