//! The WebSocket transport: `/ip4|ip6/<addr>/tcp/<port>/ws` (with an optional trailing
//! `/p2p/<id>`), plain WebSocket over TCP as go-libp2p and rust-libp2p speak it.
//!
//! A dial is a TCP connect, a WebSocket client handshake (path `/`, `Host` from the address)
//! and then the usual security + muxer upgrade over the WebSocket's binary messages; a listener
//! accepts TCP, runs the server handshake on the connection's own task and upgrades the same
//! way. The libp2p byte stream is carried in binary messages only: a text message is a protocol
//! error of the peer, and a close frame is the end of the stream.
//!
//! `/wss` and `/tls/ws` (WebSocket over TLS) are refused with [`WsError::SecureNotSupported`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::PeerId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::tcp::Framing;
use super::{Listener, TcpConfig, TcpTransport, TransportError};
use crate::{Connection, UpgradeError, Upgrader};

/// The largest WebSocket message (and frame) we accept from a peer: 1 MiB. Our own writes stay
/// far below it (64 KiB messages); peers send a message per muxer frame or so.
pub const MAX_WS_MESSAGE: usize = 1 << 20;

/// Writes are gathered into one binary message until this many bytes are pending (or a flush).
const WRITE_CHUNK: usize = 64 * 1024;

/// Why a WebSocket dial, listen or stream failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// WebSocket over TLS (`/wss`, `/tls/ws`) is not supported yet (local misuse, or a peer
    /// advertising such an address).
    #[error("secure WebSocket (/wss, /tls/ws) is not supported yet: {0}")]
    SecureNotSupported(Multiaddr),
    /// The WebSocket opening handshake failed (a peer that is not a WebSocket server or client,
    /// or a bad request or response).
    #[error("WebSocket handshake failed")]
    Handshake(#[source] tungstenite::Error),
    /// The peer sent a text message; libp2p carries bytes in binary messages only (peer's fault).
    #[error("peer sent a WebSocket text message")]
    TextFrame,
    /// The peer broke the WebSocket protocol, e.g. sent a message over [`MAX_WS_MESSAGE`]
    /// (peer's fault), or the connection failed underneath.
    #[error("WebSocket protocol error")]
    Protocol(#[source] tungstenite::Error),
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

/// The WebSocket configuration we use on both sides: messages and frames capped.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
}

/// Extracts the socket address of a `/ip4|ip6/…/tcp/…/ws[/p2p/…]` multiaddr. Secure WebSocket
/// shapes give [`WsError::SecureNotSupported`]; anything else is unsupported.
pub fn ws_socket_addr(addr: &Multiaddr) -> Result<SocketAddr, TransportError> {
    let unsupported = || TransportError::Unsupported(addr.clone());
    let mut iter = addr.iter();
    let ip = match iter.next() {
        Some(Protocol::Ip4(ip)) => std::net::IpAddr::V4(ip),
        Some(Protocol::Ip6(ip)) => std::net::IpAddr::V6(ip),
        _ => return Err(unsupported()),
    };
    let port = match iter.next() {
        Some(Protocol::Tcp(port)) => port,
        _ => return Err(unsupported()),
    };
    match iter.next() {
        Some(Protocol::Ws) => {}
        Some(Protocol::Wss | Protocol::Tls) => {
            return Err(TransportError::Ws(WsError::SecureNotSupported(
                addr.clone(),
            )))
        }
        _ => return Err(unsupported()),
    }
    match iter.next() {
        None | Some(Protocol::P2p(_)) if iter.next().is_none() => Ok(SocketAddr::new(ip, port)),
        _ => Err(unsupported()),
    }
}

/// The multiaddr of a WebSocket endpoint at `addr`.
fn ws_multiaddr(addr: SocketAddr) -> Multiaddr {
    Multiaddr::tcp(addr).with(Protocol::Ws)
}

/// The WebSocket transport: TCP underneath (with the same [`TcpConfig`] options), a WebSocket
/// handshake, then its [`Upgrader`] as over plain TCP.
#[derive(Debug, Clone)]
pub struct WsTransport {
    tcp: TcpTransport,
}

impl WsTransport {
    /// A WebSocket transport with the given TCP options and upgrader.
    pub fn new(upgrader: Upgrader, config: TcpConfig) -> Self {
        WsTransport {
            tcp: TcpTransport::new(upgrader, config),
        }
    }

    /// The upgrader every connection goes through.
    pub fn upgrader(&self) -> &Upgrader {
        self.tcp.upgrader()
    }

    /// Whether this transport dials and listens on `addr` (plain `/ws` only).
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        ws_socket_addr(addr).is_ok()
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

    /// Like [`WsTransport::dial`], calling `connected` once the TCP connection is up.
    pub async fn dial_with_progress(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        connected: impl FnOnce() + Send,
    ) -> Result<Connection, TransportError> {
        let socket_addr = ws_socket_addr(addr)?;
        let expected = super::tcp::expected_peer(addr, expected)?;
        let stream = self.tcp.connect(socket_addr).await?;
        let local = stream.local_addr().map_err(TransportError::Io)?;
        connected();
        let upgrader = self.tcp.upgrader();
        let timeout = upgrader.timeout();
        let url = format!("ws://{socket_addr}/");
        let upgrade = async {
            let (ws, _response) =
                tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
                    .await
                    .map_err(|e| TransportError::Ws(WsError::Handshake(e)))?;
            let conn = upgrader
                .upgrade_outbound(
                    WsStream::new(ws),
                    ws_multiaddr(socket_addr),
                    ws_multiaddr(local),
                    expected,
                )
                .await?;
            Ok::<_, TransportError>(conn)
        };
        tokio::time::timeout(timeout, upgrade)
            .await
            .map_err(|_| TransportError::Upgrade(UpgradeError::Timeout(timeout)))?
    }

    /// Binds `addr` (port 0 picks a free port) and starts accepting: each inbound connection
    /// does its WebSocket handshake and upgrade on its own task, at most the upgrader's limit at
    /// once, as on the TCP transport.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        let socket_addr = ws_socket_addr(addr)?;
        self.tcp.listen_framed(socket_addr, Framing::WebSocket)
    }
}

/// Runs the server side of the WebSocket handshake on an accepted TCP stream.
pub(super) async fn accept_ws(
    stream: tokio::net::TcpStream,
) -> Result<WsStream<tokio::net::TcpStream>, WsError> {
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(ws_config()))
        .await
        .map_err(WsError::Handshake)?;
    Ok(WsStream::new(ws))
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
