//! `/perf/1.0.0`, the libp2p benchmark protocol: see [`peernet_core::perf`].

use std::io;
use std::time::{Duration, Instant};

pub use peernet_core::perf::PROTOCOL;
use peernet_core::perf::{decode_request, encode_request, HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the buffers used to send and receive perf data.
const CHUNK: usize = 256 * 1024;

/// Serves one perf stream: reads the requested download size, drains the upload, then sends
/// the download. Requests above `max_download` are refused (the spec warns that perf lets
/// clients ask for unbounded work).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    max_download: u64,
) -> io::Result<(u64, u64)> {
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header).await?;
    let download = decode_request(header);
    if download > max_download {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("perf client asked for {download} bytes, more than the {max_download} allowed"),
        ));
    }
    let mut buf = vec![0u8; CHUNK];
    let mut uploaded = 0u64;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        uploaded += n as u64;
    }
    buf.fill(0);
    send(stream, download, &buf).await?;
    stream.shutdown().await?;
    Ok((uploaded, download))
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    mut remaining: u64,
    buf: &[u8],
) -> io::Result<()> {
    while remaining > 0 {
        let n = remaining.min(buf.len() as u64) as usize;
        stream.write_all(buf.get(..n).unwrap_or_default()).await?;
        remaining -= n as u64;
    }
    Ok(())
}

/// Progress of a perf run, reported about once a second.
#[derive(Debug, Clone, Copy)]
pub struct PerfProgress {
    /// Time since the previous report.
    pub interval: Duration,
    /// Bytes uploaded during the interval.
    pub upload_bytes: u64,
    /// Bytes downloaded during the interval.
    pub download_bytes: u64,
}

/// What a perf run measured.
#[derive(Debug, Clone, Copy)]
pub struct PerfResult {
    /// From the first byte written to the last byte read.
    pub elapsed: Duration,
    /// Bytes sent.
    pub upload_bytes: u64,
    /// Bytes received.
    pub download_bytes: u64,
}

/// Runs the client side: uploads `upload` bytes, then downloads `download` bytes.
/// `progress` is called about once a second.
pub async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    upload: u64,
    download: u64,
    mut progress: impl FnMut(PerfProgress),
) -> io::Result<PerfResult> {
    let start = Instant::now();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut last = start;
    let (mut up_interval, mut down_interval) = (0u64, 0u64);
    let mut report = |up: u64, down: u64| {
        let now = Instant::now();
        if now.duration_since(last) >= Duration::from_secs(1) {
            progress(PerfProgress {
                interval: now.duration_since(last),
                upload_bytes: up,
                download_bytes: down,
            });
            last = now;
            true
        } else {
            false
        }
    };
    writer.write_all(&encode_request(download)).await?;
    let buf = vec![0u8; CHUNK];
    let mut remaining = upload;
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        writer.write_all(buf.get(..n).unwrap_or_default()).await?;
        remaining -= n as u64;
        up_interval += n as u64;
        if report(up_interval, 0) {
            up_interval = 0;
        }
    }
    writer.shutdown().await?;
    let mut rbuf = vec![0u8; CHUNK];
    let mut received = 0u64;
    loop {
        let n = reader.read(&mut rbuf).await?;
        if n == 0 {
            break;
        }
        received += n as u64;
        down_interval += n as u64;
        if report(up_interval, down_interval) {
            (up_interval, down_interval) = (0, 0);
        }
        if received > download {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "perf server sent more than requested",
            ));
        }
    }
    if received != download {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("perf server sent {received} of {download} bytes"),
        ));
    }
    Ok(PerfResult {
        elapsed: start.elapsed(),
        upload_bytes: upload,
        download_bytes: received,
    })
}
