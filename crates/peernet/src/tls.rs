//! The tokio driver of libp2p TLS 1.3: [`upgrade_outbound`] and [`upgrade_inbound`] run the
//! handshake over any byte stream and return a [`TlsStream`] plus what the handshake proved
//! about the remote ([`RemoteInfo`]).
//!
//! The protocol logic (certificates, verification, ALPN) lives in
//! [`peernet_core::tls`]; this module only pumps bytes with `tokio-rustls`.
//!
//! No timeout is applied here: the caller (the transport upgrader) bounds the whole upgrade.
//!
//! ```
//! use peernet::core::Keypair;
//! use peernet::tls::{upgrade_inbound, upgrade_outbound};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (dialer, listener) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
//! let listener_id = listener.public().to_peer_id();
//! // Any AsyncRead + AsyncWrite works: a TcpStream, or an in-memory pipe here.
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! let (outbound, inbound) = tokio::join!(
//!     upgrade_outbound(a, &dialer, Some(listener_id.clone()), &["/yamux/1.0.0"]),
//!     upgrade_inbound(b, &listener, &["/yamux/1.0.0"]),
//! );
//! let (mut client, remote) = outbound?;
//! let (mut server, _) = inbound?;
//! assert_eq!(remote.peer_id, listener_id);
//! assert_eq!(remote.muxer.as_deref(), Some("/yamux/1.0.0")); // no multistream round needed
//!
//! client.write_all(b"hello").await?;
//! client.shutdown().await?; // close_notify, then the write side of the pipe closes
//! let mut got = Vec::new();
//! server.read_to_end(&mut got).await?;
//! assert_eq!(got, b"hello");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use peernet_core::tls::{self as core_tls, TlsError};
use peernet_core::Keypair;
use peernet_core::PeerId;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};

pub use peernet_core::tls::{RemoteInfo, TlsIdentity};

/// Capacity of the read buffer under rustls. rustls asks the socket for at most 4 KiB at a
/// time; reading 64 KiB per system call instead costs one extra copy per byte but saves ~15 of
/// every 16 system calls at high throughput.
const READ_BUFFER: usize = 64 * 1024;

/// How much encrypted output rustls may queue before a write has to wait for the socket: 16
/// full records, flushed with one vectored write.
const WRITE_BUFFER: usize = 256 * 1024;

/// Why a TLS upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsUpgradeError {
    /// The local certificate or configuration could not be built. Local fault.
    #[error("TLS configuration")]
    Config(#[source] TlsError),
    /// The remote's certificate was refused (including a peer id other than the expected one:
    /// [`TlsError::PeerIdMismatch`]). The remote is at fault.
    #[error("remote certificate refused")]
    Certificate(#[source] TlsError),
    /// The TLS handshake failed: a protocol violation by the remote, an alert it sent (for
    /// instance because it refused our certificate), or no common ALPN protocol, cipher suite
    /// or version. Usually the remote's fault or an incompatibility.
    #[error("TLS handshake failed")]
    Handshake(#[source] rustls::Error),
    /// The underlying connection failed or was closed during the handshake. The network or the
    /// remote is at fault.
    #[error("I/O during TLS handshake")]
    Io(#[source] io::Error),
}

impl TlsUpgradeError {
    /// Who was at fault: our configuration, the remote's certificate or handshake, or the
    /// connection under it.
    pub fn fault(&self) -> peernet_core::Fault {
        use peernet_core::Fault;
        match self {
            TlsUpgradeError::Config(_) => Fault::Local,
            TlsUpgradeError::Certificate(_) | TlsUpgradeError::Handshake(_) => Fault::Remote,
            TlsUpgradeError::Io(_) => Fault::Io,
        }
    }

    /// `(expected, actual)` when the remote's certificate proved another peer than the one
    /// dialed.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            TlsUpgradeError::Certificate(TlsError::PeerIdMismatch { expected, actual }) => {
                Some((expected, actual))
            }
            _ => None,
        }
    }
}

impl TlsUpgradeError {
    /// Classifies an error returned by tokio-rustls, which wraps rustls errors in
    /// [`io::ErrorKind::InvalidData`].
    fn from_io(error: io::Error) -> Self {
        let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        else {
            return TlsUpgradeError::Io(error);
        };
        match TlsError::from_rustls(tls) {
            Some(refusal) => TlsUpgradeError::Certificate(refusal.clone()),
            None => TlsUpgradeError::Handshake(tls.clone()),
        }
    }

    /// The remote certificate's refusal reason, if that is why the upgrade failed.
    pub fn certificate_error(&self) -> Option<&TlsError> {
        match self {
            TlsUpgradeError::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

/// An encrypted, authenticated stream over `T`.
///
/// Reads and writes carry application data in TLS records of up to 16 KiB of plaintext.
/// [`AsyncWrite::poll_shutdown`] sends `close_notify`, flushes, and shuts down the write side
/// of `T`; reading goes on until the remote closes its side.
#[derive(Debug)]
pub struct TlsStream<T> {
    inner: tokio_rustls::TlsStream<BufReader<T>>,
}

impl<T: AsyncRead> TlsStream<T> {
    /// The underlying stream.
    pub fn get_ref(&self) -> &T {
        self.inner.get_ref().0.get_ref()
    }
}

fn configure<T>(mut inner: tokio_rustls::TlsStream<BufReader<T>>) -> TlsStream<T> {
    match &mut inner {
        tokio_rustls::TlsStream::Client(s) => s.get_mut().1.set_buffer_limit(Some(WRITE_BUFFER)),
        tokio_rustls::TlsStream::Server(s) => s.get_mut().1.set_buffer_limit(Some(WRITE_BUFFER)),
    }
    TlsStream { inner }
}

/// Runs the dialer's side of the handshake over `io`, announcing `muxers` (most preferred
/// first) for early muxer negotiation. With `expected` set, a remote proving any other peer id
/// is refused with [`TlsUpgradeError::Certificate`]`(`[`TlsError::PeerIdMismatch`]`)`.
///
/// Makes a fresh certificate for `keypair`; [`upgrade_outbound_with`] reuses one.
///
/// In TLS 1.3 the client finishes before the server has checked the client's certificate: if
/// the server refuses it, the error shows up on the first read of the returned stream.
pub async fn upgrade_outbound<T>(
    io: T,
    keypair: &Keypair,
    expected: Option<PeerId>,
    muxers: &[&str],
) -> Result<(TlsStream<T>, RemoteInfo), TlsUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let identity = TlsIdentity::new(keypair).map_err(TlsUpgradeError::Config)?;
    upgrade_outbound_with(io, &identity, expected, muxers).await
}

/// [`upgrade_outbound`] presenting the certificate of `identity`.
pub async fn upgrade_outbound_with<T>(
    io: T,
    identity: &TlsIdentity,
    expected: Option<PeerId>,
    muxers: &[&str],
) -> Result<(TlsStream<T>, RemoteInfo), TlsUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = identity
        .client_config(expected, muxers)
        .map_err(TlsUpgradeError::Config)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    // SNI is disabled in the config: this name is neither sent nor checked.
    let name = ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into());
    let stream = connector
        .connect(name, BufReader::with_capacity(READ_BUFFER, io))
        .await
        .map_err(TlsUpgradeError::from_io)?;
    let info = core_tls::remote_info(stream.get_ref().1).map_err(TlsUpgradeError::Certificate)?;
    tracing::debug!(peer = %info.peer_id, muxer = ?info.muxer, "TLS outbound upgrade done");
    Ok((configure(stream.into()), info))
}

/// Runs the listener's side of the handshake over `io`, accepting `muxers` through ALPN; of
/// those the client offers, the client's most preferred is chosen.
///
/// Makes a fresh certificate for `keypair`; [`upgrade_inbound_with`] reuses one.
pub async fn upgrade_inbound<T>(
    io: T,
    keypair: &Keypair,
    muxers: &[&str],
) -> Result<(TlsStream<T>, RemoteInfo), TlsUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let identity = TlsIdentity::new(keypair).map_err(TlsUpgradeError::Config)?;
    upgrade_inbound_with(io, &identity, muxers).await
}

/// [`upgrade_inbound`] presenting the certificate of `identity`.
pub async fn upgrade_inbound_with<T>(
    io: T,
    identity: &TlsIdentity,
    muxers: &[&str],
) -> Result<(TlsStream<T>, RemoteInfo), TlsUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let base = Arc::new(
        identity
            .server_config(muxers)
            .map_err(TlsUpgradeError::Config)?,
    );
    let acceptor = tokio_rustls::LazyConfigAcceptor::new(
        rustls::server::Acceptor::default(),
        BufReader::with_capacity(READ_BUFFER, io),
    );
    let start = acceptor.await.map_err(TlsUpgradeError::from_io)?;
    let config = core_tls::server_config_for_client_hello(&base, start.client_hello().alpn());
    let stream = start
        .into_stream(config)
        .await
        .map_err(TlsUpgradeError::from_io)?;
    let info = core_tls::remote_info(stream.get_ref().1).map_err(TlsUpgradeError::Certificate)?;
    tracing::debug!(peer = %info.peer_id, muxer = ?info.muxer, "TLS inbound upgrade done");
    Ok((configure(stream.into()), info))
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
