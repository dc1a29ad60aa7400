//! `/ipfs/ping/1.0.0`: see [`peernet_core::ping`].

use std::io;
use std::time::{Duration, Instant};

pub use peernet_core::ping::PROTOCOL;
use peernet_core::ping::{Ping, PAYLOAD_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Serves one ping stream: echoes each 32-byte payload until the remote closes its write side.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    let mut payload = [0u8; PAYLOAD_LEN];
    loop {
        match stream.read_exact(&mut payload).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        stream.write_all(&payload).await?;
        stream.flush().await?;
    }
    stream.shutdown().await
}

/// Sends one ping on `stream` and returns the round-trip time. May be called repeatedly on the
/// same stream.
pub async fn ping<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<Duration> {
    let ping = Ping::random(Instant::now());
    stream.write_all(ping.payload()).await?;
    stream.flush().await?;
    let mut pong = [0u8; PAYLOAD_LEN];
    stream.read_exact(&mut pong).await?;
    ping.handle_pong(&pong, Instant::now())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
