//! The README's library example, as written there.

use peernet::{services::echo, AddrInfo, Host};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn readme_echo_example() -> Result<(), Box<dyn std::error::Error>> {
    // A node that echoes on /echo/1.0.0 (TCP and QUIC on every interface by default).
    let server = Host::builder().build().await?;
    server.set_stream_handler("/echo/1.0.0", |mut stream| async move {
        let _ = echo::serve(&mut stream).await;
    });

    // Another node connects, opens a stream, writes and reads.
    let client = Host::builder().no_listen().build().await?;
    client
        .connect(AddrInfo {
            peer_id: server.id().clone(),
            addrs: server.listen_addrs(),
        })
        .await?;
    let mut stream = client.new_stream(server.id(), &["/echo/1.0.0"]).await?;
    stream.write_all(b"Hello, world!\n").await?;
    stream.shutdown().await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;

    assert_eq!(reply, "Hello, world!\n");
    client.close().await;
    server.close().await;
    Ok(())
}
