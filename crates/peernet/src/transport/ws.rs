//! The WebSocket transport: `/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/ws`, and over TLS
//! `…/tcp/<port>/tls/ws`, `…/tcp/<port>/tls/sni/<name>/ws` or the older spelling `…/wss` (each
//! with an optional trailing `/p2p/<id>`), as go-libp2p and rust-libp2p speak it.
//!
//! A dial is a TCP connect, for a secure address a TLS handshake (server name: the `/sni/`
//! name, else the DNS name, else the IP), a WebSocket client handshake (path `/`, `Host` from
//! the address: the DNS name when there is one) and then the usual security + muxer upgrade
//! over the WebSocket's binary messages; a listener accepts TCP, runs TLS (with a certificate
//! from [`WsTlsConfig`]) and the server handshake on the connection's own task and upgrades the
//! same way. The libp2p byte stream is carried in binary messages only: a text message is a
//! protocol error of the peer, and a close frame is the end of the stream.
//!
//! A secure listener announces `/tls/ws` (go-libp2p's spelling since it deprecated `/wss`);
//! both spellings are accepted to listen on and to dial. Without a [`WsTlsConfig`] for the side
//! asked for, secure addresses fail with [`WsError::TlsNotConfigured`].

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::PeerId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::connection::Connection;
use crate::transport::dns::{self, DnsConfig};
use crate::transport::error::{TransportError, WsError};
use crate::transport::shared::{expected_peer, Listener};
use crate::transport::tcp::AcceptUpgrade;
use crate::transport::tcp::{TcpConfig, TcpTransport};
use crate::upgrader::{UpgradeError, Upgrader};

/// The largest WebSocket message (and frame) we accept from a peer: 1 MiB. Our own writes stay
/// far below it (64 KiB messages); peers send a message per muxer frame or so.
pub const MAX_WS_MESSAGE: usize = 1 << 20;

/// Writes are gathered into one binary message until this many bytes are pending (or a flush).
const WRITE_CHUNK: usize = 64 * 1024;

/// The WebSocket configuration we use on both sides: messages and frames capped.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
}

fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS for secure WebSocket (`/tls/ws`, `/wss`): the certificate a listener presents and the
/// roots a dialer trusts. This TLS is the web's, under the WebSocket; the libp2p security
/// protocol (Noise or libp2p TLS) still runs inside and authenticates the peer id.
#[derive(Debug, Clone, Default)]
pub struct WsTlsConfig {
    server: Option<Arc<rustls::ServerConfig>>,
    client: Option<Arc<rustls::ClientConfig>>,
}

impl WsTlsConfig {
    /// No certificate and no roots: secure addresses fail with [`WsError::TlsNotConfigured`].
    pub fn new() -> Self {
        WsTlsConfig::default()
    }

    /// Listens with `chain` (leaf first) and its private `key`.
    pub fn with_certificate(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, WsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| WsError::BadCertificate(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| WsError::BadCertificate(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        self.server = Some(Arc::new(config));
        Ok(self)
    }

    /// Listens with the certificate chain and key of two PEM files (see [`load_pem`]).
    pub fn with_pem_files(self, cert: &Path, key: &Path) -> Result<Self, WsError> {
        let (chain, key) = load_pem(cert, key)?;
        self.with_certificate(chain, key)
    }

    /// Dials trusting the certificate authorities in `roots` (webpki checks: chain, validity,
    /// and that the certificate is for the name dialed).
    pub fn with_roots(mut self, roots: rustls::RootCertStore) -> Result<Self, WsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| WsError::BadCertificate(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        self.client = Some(Arc::new(config));
        Ok(self)
    }

    /// Uses a ready-made rustls server configuration for listening.
    pub fn with_server_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.server = Some(config);
        self
    }

    /// Uses a ready-made rustls client configuration for dialing.
    pub fn with_client_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.client = Some(config);
        self
    }
}

/// Reads a certificate chain (every `CERTIFICATE` block of `cert`, leaf first) and a private
/// key (the first PKCS#8, PKCS#1 or SEC1 key of `key`) from PEM files.
pub fn load_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), WsError> {
    let bad = |what: &Path, e: &dyn std::fmt::Display| {
        WsError::BadCertificate(format!("{}: {e}", what.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, &e))?;
    if chain.is_empty() {
        return Err(bad(cert, &"no CERTIFICATE block"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    Ok((chain, key_der))
}

/// Where a WebSocket address points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum WsHost {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name, resolved at dial time (it stays the HTTP `Host` and the TLS server name).
    Name(String),
}

/// A WebSocket address taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WsTarget {
    host: WsHost,
    port: u16,
    /// Secure WebSocket: `Some(sni)`, the `/sni/` name if the address has one.
    tls: Option<Option<String>>,
}

impl WsTarget {
    /// The name the TLS certificate must be for, and the HTTP `Host`.
    fn server_name(&self) -> String {
        match (&self.tls, &self.host) {
            (Some(Some(sni)), _) => sni.clone(),
            (_, WsHost::Name(name)) => name.clone(),
            (_, WsHost::Ip(ip)) => ip.to_string(),
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        let host = match (&self.tls, &self.host) {
            (Some(Some(sni)), _) => sni.clone(),
            (_, WsHost::Name(name)) => name.clone(),
            (_, WsHost::Ip(IpAddr::V6(ip))) => format!("[{ip}]"),
            (_, WsHost::Ip(ip)) => ip.to_string(),
        };
        format!("{scheme}://{host}:{}/", self.port)
    }
}

/// Takes apart a WebSocket multiaddr; anything else is unsupported.
fn parse_ws(addr: &Multiaddr) -> Result<WsTarget, TransportError> {
    let unsupported = || TransportError::Unsupported(addr.clone());
    let mut iter = addr.iter();
    let host = match iter.next() {
        Some(Protocol::Ip4(ip)) => WsHost::Ip(IpAddr::V4(ip)),
        Some(Protocol::Ip6(ip)) => WsHost::Ip(IpAddr::V6(ip)),
        Some(Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n)) => {
            WsHost::Name(n.into_owned())
        }
        _ => return Err(unsupported()),
    };
    let port = match iter.next() {
        Some(Protocol::Tcp(port)) => port,
        _ => return Err(unsupported()),
    };
    let tls = match iter.next() {
        Some(Protocol::Ws) => None,
        Some(Protocol::Wss) => Some(None),
        Some(Protocol::Tls) => match iter.next() {
            Some(Protocol::Ws) => Some(None),
            Some(Protocol::Sni(name)) => match iter.next() {
                Some(Protocol::Ws) => Some(Some(name.into_owned())),
                _ => return Err(unsupported()),
            },
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    match iter.next() {
        None | Some(Protocol::P2p(_)) if iter.next().is_none() => Ok(WsTarget { host, port, tls }),
        _ => Err(unsupported()),
    }
}

/// The multiaddr of a WebSocket endpoint at `addr`.
fn ws_multiaddr(addr: SocketAddr, secure: bool) -> Multiaddr {
    if secure {
        Multiaddr::tcp(addr).with(Protocol::Tls).with(Protocol::Ws)
    } else {
        Multiaddr::tcp(addr).with(Protocol::Ws)
    }
}

/// The WebSocket transport: TCP underneath (with the same [`TcpConfig`] options), TLS for
/// secure addresses, a WebSocket handshake, then its [`Upgrader`] as over plain TCP.
#[derive(Debug, Clone)]
pub struct WsTransport {
    tcp: TcpTransport,
    tls: WsTlsConfig,
    dns: DnsConfig,
}

impl WsTransport {
    /// A WebSocket transport with the given TCP options and upgrader, without TLS.
    pub fn new(upgrader: Upgrader, config: TcpConfig) -> Self {
        WsTransport {
            tcp: TcpTransport::new(upgrader, config),
            tls: WsTlsConfig::default(),
            dns: DnsConfig::default(),
        }
    }

    /// The same transport with `tls` for secure WebSocket addresses.
    pub fn with_tls(mut self, tls: WsTlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// The same transport resolving DNS names with `dns`.
    pub fn with_dns(mut self, dns: DnsConfig) -> Self {
        self.dns = dns;
        self
    }

    /// The upgrader every connection goes through.
    pub fn upgrader(&self) -> &Upgrader {
        self.tcp.upgrader()
    }

    /// Whether this transport dials or listens on `addr`: plain `/ws` always, secure shapes
    /// when a [`WsTlsConfig`] side is set.
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        match parse_ws(addr) {
            Ok(t) if t.tls.is_some() => self.tls.client.is_some() || self.tls.server.is_some(),
            Ok(_) => true,
            Err(_) => false,
        }
    }

    /// Dials `addr` and upgrades the connection. The remote must be `expected`, or the peer in
    /// the address's `/p2p/` suffix; with neither, any authenticated peer is accepted.
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, TransportError> {
        self.dial_with_progress(addr, expected, || {}).await
    }

    /// Connects TCP to the target: its IP, or each address its name resolves to in turn.
    async fn connect(
        &self,
        addr: &Multiaddr,
        target: &WsTarget,
    ) -> Result<tokio::net::TcpStream, TransportError> {
        let ips = match &target.host {
            WsHost::Ip(ip) => vec![*ip],
            WsHost::Name(_) => match dns::resolve_ips(addr, &self.dns).await {
                Ok(Some((_, ips))) => ips,
                Ok(None) => return Err(TransportError::Unsupported(addr.clone())),
                Err(e) => return Err(TransportError::Dns(e)),
            },
        };
        let mut last = None;
        for ip in ips {
            match self.tcp.connect(SocketAddr::new(ip, target.port)).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| TransportError::Unsupported(addr.clone())))
    }

    /// Like [`WsTransport::dial`], calling `connected` once the TCP connection is up.
    pub async fn dial_with_progress(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        connected: impl FnOnce() + Send,
    ) -> Result<Connection, TransportError> {
        let target = parse_ws(addr)?;
        let client_tls = match &target.tls {
            None => None,
            Some(_) => match &self.tls.client {
                Some(config) => Some(config.clone()),
                None => return Err(TransportError::Ws(WsError::TlsNotConfigured(addr.clone()))),
            },
        };
        let expected = expected_peer(addr, expected)?;
        let stream = self.connect(addr, &target).await?;
        let remote = stream.peer_addr().map_err(TransportError::Io)?;
        let local = stream.local_addr().map_err(TransportError::Io)?;
        connected();
        let upgrader = self.tcp.upgrader();
        let timeout = upgrader.timeout();
        let secure = client_tls.is_some();
        let (remote_addr, local_addr) = (ws_multiaddr(remote, secure), ws_multiaddr(local, secure));
        let url = target.url();
        let upgrade = async {
            let conn = match client_tls {
                None => {
                    let (ws, _response) =
                        tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
                            .await
                            .map_err(|e| TransportError::Ws(WsError::Handshake(e)))?;
                    upgrader
                        .upgrade_outbound(WsStream::new(ws), remote_addr, local_addr, expected)
                        .await?
                }
                Some(config) => {
                    let name = ServerName::try_from(target.server_name()).map_err(|e| {
                        TransportError::Ws(WsError::Tls(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            e,
                        )))
                    })?;
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, stream)
                        .await
                        .map_err(|e| TransportError::Ws(WsError::Tls(e)))?;
                    let (ws, _response) =
                        tokio_tungstenite::client_async_with_config(url, tls, Some(ws_config()))
                            .await
                            .map_err(|e| TransportError::Ws(WsError::Handshake(e)))?;
                    upgrader
                        .upgrade_outbound(WsStream::new(ws), remote_addr, local_addr, expected)
                        .await?
                }
            };
            Ok::<_, TransportError>(conn)
        };
        tokio::time::timeout(timeout, upgrade)
            .await
            .map_err(|_| TransportError::Upgrade(UpgradeError::Timeout(timeout)))?
    }

    /// Binds `addr` (port 0 picks a free port; an IP address, not a name) and starts accepting:
    /// each inbound connection does its TLS (secure addresses), WebSocket handshake and upgrade
    /// on its own task, at most the upgrader's limit at once, as on the TCP transport.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        let target = parse_ws(addr)?;
        let WsHost::Ip(ip) = target.host else {
            return Err(TransportError::Unsupported(addr.clone()));
        };
        let socket_addr = SocketAddr::new(ip, target.port);
        let tls = match &target.tls {
            None => None,
            Some(_) => match &self.tls.server {
                Some(config) => Some(config.clone()),
                None => return Err(TransportError::Ws(WsError::TlsNotConfigured(addr.clone()))),
            },
        };
        self.tcp.listen_with(socket_addr, WsAccept { tls })
    }
}

/// What a WebSocket listener runs on each accepted TCP stream: the gater and resource limits
/// first (before any handshake costs anything), then TLS for a secure listener, the WebSocket
/// server handshake and the upgrade, all under the upgrader's timeout.
#[derive(Clone)]
struct WsAccept {
    /// The certificate of a secure (`/tls/ws`) listener.
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl AcceptUpgrade for WsAccept {
    fn multiaddr(&self, addr: SocketAddr) -> Multiaddr {
        ws_multiaddr(addr, self.tls.is_some())
    }

    async fn upgrade(
        self,
        upgrader: Upgrader,
        stream: tokio::net::TcpStream,
        remote: Multiaddr,
        local: Multiaddr,
    ) -> Result<Connection, TransportError> {
        let timeout = upgrader.timeout();
        let admission = upgrader.admit_inbound(&remote, &local)?;
        let upgrade = async {
            let conn = match self.tls {
                None => {
                    let ws = accept_ws(stream).await.map_err(TransportError::Ws)?;
                    upgrader
                        .upgrade_inbound_admitted(ws, remote, local, admission)
                        .await?
                }
                Some(config) => {
                    let ws = accept_wss(stream, config)
                        .await
                        .map_err(TransportError::Ws)?;
                    upgrader
                        .upgrade_inbound_admitted(ws, remote, local, admission)
                        .await?
                }
            };
            Ok(conn)
        };
        tokio::time::timeout(timeout, upgrade)
            .await
            .map_err(|_| TransportError::Upgrade(UpgradeError::Timeout(timeout)))?
    }
}

/// Runs the server side of the WebSocket handshake on an accepted stream (TCP, or TLS over
/// TCP).
async fn accept_ws<S>(stream: S) -> Result<WsStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()))
        .await
        .map_err(WsError::Handshake)?;
    Ok(WsStream::new(ws))
}

/// Runs TLS and then the WebSocket server handshake on an accepted TCP stream.
async fn accept_wss(
    stream: tokio::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> Result<WsStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>, WsError> {
    let tls = tokio_rustls::TlsAcceptor::from(config)
        .accept(stream)
        .await
        .map_err(WsError::Tls)?;
    accept_ws(tls).await
}

/// A WebSocket as a byte stream: writes go out as binary messages, reads yield the payloads of
/// binary messages. Pings are answered by tungstenite; a close frame reads as end of stream.
#[derive(Debug)]
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    read_buf: Bytes,
    /// Bytes written but not yet sent as a message.
    write_buf: Vec<u8>,
    /// A close frame (or the end of the connection) was seen.
    read_eof: bool,
}

impl<S> WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn new(ws: WebSocketStream<S>) -> Self {
        WsStream {
            ws,
            read_buf: Bytes::new(),
            write_buf: Vec::new(),
            read_eof: false,
        }
    }

    /// Hands the pending bytes to the WebSocket as one binary message.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_buf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(ws_io_error)?;
        let payload = Bytes::from(std::mem::take(&mut self.write_buf));
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(payload))
            .map_err(ws_io_error)?;
        Poll::Ready(Ok(()))
    }
}

fn ws_io_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        e => WsError::Protocol(e).into(),
    }
}

impl<S> AsyncRead for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.read_buf.is_empty() {
                let n = this.read_buf.len().min(buf.remaining());
                buf.put_slice(&this.read_buf.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.read_eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.read_buf = data,
                Some(Ok(Message::Text(_))) => return Poll::Ready(Err(WsError::TextFrame.into())),
                // Pongs are queued by tungstenite itself; raw frames never show up in reads.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) | None => this.read_eof = true,
                Some(Err(tungstenite::Error::ConnectionClosed)) => this.read_eof = true,
                Some(Err(e)) => return Poll::Ready(Err(ws_io_error(e))),
            }
        }
    }
}

impl<S> AsyncWrite for WsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_buf.len() >= WRITE_CHUNK {
            ready!(this.poll_send_pending(cx))?;
        }
        let n = buf.len().min(WRITE_CHUNK - this.write_buf.len());
        this.write_buf
            .extend_from_slice(buf.get(..n).unwrap_or_default());
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(ws_io_error)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_pending(cx))?;
        match ready!(Pin::new(&mut this.ws).poll_close(cx)) {
            Ok(()) | Err(tungstenite::Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(ws_io_error(e))),
        }
    }
}
