//! Driver tests: sessions over `tokio::io::duplex`, and what the driver writes on the wire.

use super::*;
use tokio::io::{duplex, AsyncWriteExt, DuplexStream};

/// Records how many bytes the driver offers to each read of the I/O object.
struct Recorder {
    inner: DuplexStream,
    offered: Arc<Mutex<Vec<usize>>>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.offered.lock().unwrap().push(buf.remaining());
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn quiet_config() -> Config {
    Config {
        keep_alive_interval: None,
        measure_rtt: false,
        ..Config::default()
    }
}

/// The client writes `data` and the server reads it: the client's driver runs a step
/// (reading first) without anything to read.
async fn client_writes(client: &mut YamuxStream, server: &mut YamuxStream, data: &[u8]) {
    client.write_all(data).await.unwrap();
    let mut got = vec![0u8; data.len()];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(got, data);
}

/// A quiet connection holds no read buffer: when its driver wakes with nothing to read it
/// polls the I/O object through the small stack probe. After a bulk transfer the buffer is
/// kept (until the keep-alive tick), so the transfer's reads never wait on an allocation.
#[tokio::test]
async fn a_quiet_connection_holds_no_read_buffer_a_streaming_one_keeps_it() {
    let (a, b) = duplex(1 << 20);
    let offered = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        inner: a,
        offered: offered.clone(),
    };
    let client = YamuxSession::new(recorder, Role::Client, quiet_config());
    let server = YamuxSession::new(b, Role::Server, quiet_config());
    let mut c = client.open_stream().await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut s = server.accept_stream().await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    s.write_all(b"world").await.unwrap();
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"world");

    client_writes(&mut c, &mut s, b"again").await;
    let last = *offered.lock().unwrap().last().unwrap();
    assert_eq!(last, PROBE_LEN, "a quiet driver reads through the probe");

    // A bulk transfer to the client grows its reads; the buffer outlives the transfer.
    let bulk = vec![7u8; 4 << 20];
    let sender = tokio::spawn(async move {
        s.write_all(&bulk).await.unwrap();
        s
    });
    let mut got = vec![0u8; 4 << 20];
    c.read_exact(&mut got).await.unwrap();
    let mut s = sender.await.unwrap();
    assert!(offered.lock().unwrap().iter().any(|&n| n > READ_CHUNK_MIN));
    client_writes(&mut c, &mut s, b"after").await;
    let last = *offered.lock().unwrap().last().unwrap();
    assert!(
        last > PROBE_LEN,
        "a driver that streamed keeps its buffer: offered {last}"
    );
}
