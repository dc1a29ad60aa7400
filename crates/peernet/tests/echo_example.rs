//! Runs the echo example's two modes against each other, in one process, through the same
//! functions its `main` calls.

#[path = "../examples/echo.rs"]
#[allow(dead_code, unreachable_pub)]
mod echo_example;

use echo_example::{make_host, parse_flags, run_sender, start_listener};

fn args(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split_whitespace().map(str::to_owned)
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run(insecure: bool) {
    let port = free_port();
    let flag = if insecure { " --insecure" } else { "" };
    let listen = parse_flags(args(&format!("-l {port} --seed 1{flag}"))).unwrap();
    let listener = make_host(listen.listen, listen.insecure, listen.seed)
        .await
        .unwrap();
    let full_addr = start_listener(&listener);
    assert!(
        full_addr.starts_with(&format!("/ip4/127.0.0.1/tcp/{port}/p2p/")),
        "{full_addr}"
    );
    // Seed 1 gives the same identity every run, as in Go.
    assert!(full_addr.ends_with(&listener.id().to_string()));
    assert_eq!(
        *listener.id(),
        peernet::Keypair::ed25519_from_seed(1).to_peer_id()
    );

    let dial = parse_flags(args(&format!("-l {} -d {full_addr}{flag}", free_port()))).unwrap();
    let sender = make_host(dial.listen, dial.insecure, dial.seed)
        .await
        .unwrap();
    let reply = run_sender(&sender, dial.target.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(reply, "Hello, world!\n");
    let conn = sender.swarm().best_conn(listener.id()).unwrap();
    assert_eq!(
        conn.security(),
        if insecure {
            "/plaintext/2.0.0"
        } else {
            "/noise"
        }
    );
    sender.close().await;
    listener.close().await;
}

#[tokio::test]
async fn listener_and_sender_modes_talk() {
    run(false).await;
}

#[tokio::test]
async fn insecure_mode_talks_plaintext() {
    run(true).await;
}

#[test]
fn flags_as_in_go() {
    assert!(parse_flags(args("-d /ip4/1.2.3.4/tcp/1")).is_err());
    let f = parse_flags(args("-l 4001 -insecure -seed 7")).unwrap();
    assert_eq!(
        (f.listen, f.insecure, f.seed, f.target),
        (4001, true, 7, None)
    );
}
