//! `/echo/1.0.0`: the server writes back everything it reads, and closes its write side after
//! the remote closed its own. The protocol of go-libp2p's echo example.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol id.
pub const PROTOCOL: &str = "/echo/1.0.0";

/// Serves one echo stream until the remote closes its write side.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(buf.get(..n).unwrap_or_default()).await?;
        total += n as u64;
    }
    stream.shutdown().await?;
    Ok(total)
}

/// Sends `data`, closes our write side, and returns everything the server sent back (at most
/// `max_reply` bytes).
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    data: &[u8],
    max_reply: usize,
) -> io::Result<Vec<u8>> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write = async {
        writer.write_all(data).await?;
        writer.shutdown().await
    };
    let read = async {
        let mut reply = Vec::new();
        (&mut reader)
            .take(max_reply as u64 + 1)
            .read_to_end(&mut reply)
            .await?;
        if reply.len() > max_reply {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "echo reply longer than allowed",
            ));
        }
        Ok(reply)
    };
    let (written, reply) = tokio::join!(write, read);
    written?;
    reply
}
