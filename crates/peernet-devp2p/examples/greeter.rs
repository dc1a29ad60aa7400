//! Two devp2p nodes in one process running a tiny two-message subprotocol, `greet/1`:
//!
//! * code 0, `Hello [name]`: sent by the dialer;
//! * code 1, `Welcome [text]`: the listener's answer.
//!
//! It shows the `Protocol` API: a name, a version, a number of message codes and a `run`
//! function that reads and writes through its `ProtoRw` (codes relative to the protocol's
//! offset; the offset itself comes from capability matching). When the dialer's `run` returns,
//! its peer disconnects with "client quitting".
//!
//! Run with `cargo run -p peernet-devp2p --example greeter`.

use peernet_devp2p::{rlp, Config, Protocol, RunError, Server, ServerEvent};

const HELLO: u64 = 0;
const WELCOME: u64 = 1;

fn text(s: &str) -> Vec<u8> {
    let mut item = Vec::new();
    rlp::encode_bytes(s.as_bytes(), &mut item);
    let mut list = Vec::new();
    rlp::encode_list(&item, &mut list);
    list
}

fn read_text(payload: &[u8]) -> Result<String, RunError> {
    let mut list = rlp::decode(payload)
        .and_then(|i| i.list())
        .map_err(RunError::other)?;
    let s = list
        .required()
        .and_then(|i| i.bytes())
        .map_err(RunError::other)?;
    Ok(String::from_utf8_lossy(s).into_owned())
}

/// The listener's side: answer every Hello with a Welcome.
fn greet_server() -> Protocol {
    Protocol::new("greet", 1, 2, |peer, mut rw| async move {
        loop {
            let msg = rw.read().await?;
            match msg.code {
                HELLO => {
                    let name = read_text(&msg.payload)?;
                    println!("[listener] {} says hello as {name:?}", peer.client_id());
                    rw.write(WELCOME, &text(&format!("welcome, {name}!")))
                        .await?;
                }
                other => return Err(RunError::other(format!("unexpected greet message {other}"))),
            }
        }
    })
}

/// The dialer's side: say hello, print the answer, and end (which ends the peer).
fn greet_client(name: &'static str) -> Protocol {
    Protocol::new("greet", 1, 2, move |_peer, mut rw| async move {
        rw.write(HELLO, &text(name)).await?;
        let msg = rw.read().await?;
        println!(
            "[dialer] got message {} (wire code {}): {:?}",
            msg.code,
            msg.code + rw.offset(),
            read_text(&msg.payload)?
        );
        Ok(())
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand::thread_rng();
    let mut listener_cfg =
        Config::new(peernet_devp2p::SecretKey::random(&mut rng)).protocol(greet_server());
    listener_cfg.client_id = "greeter-listener".into();
    let listener = Server::listen(listener_cfg, "127.0.0.1:0".parse()?).await?;
    let enode = listener.local_enode().ok_or("listener has no address")?;
    println!("[listener] {enode}");
    let mut events = listener.subscribe();

    let mut dialer_cfg =
        Config::new(peernet_devp2p::SecretKey::random(&mut rng)).protocol(greet_client("ada"));
    dialer_cfg.client_id = "greeter-dialer".into();
    let dialer = Server::new(dialer_cfg);
    let peer = dialer.dial(&enode).await?;
    println!(
        "[dialer] connected to {} running {:?}",
        peer.client_id(),
        peer.shared_caps()
            .iter()
            .map(|s| format!("{} at offset {}", s.cap, s.offset))
            .collect::<Vec<_>>()
    );
    let exit = peer.wait().await;
    println!("[dialer] peer ended: {exit}");
    loop {
        match events.recv().await? {
            ServerEvent::PeerAdded(p) => println!("[listener] peer added: {}", p.client_id()),
            ServerEvent::PeerRemoved { exit, .. } => {
                println!("[listener] peer removed: {exit}");
                break;
            }
        }
    }
    listener.shutdown().await;
    Ok(())
}
