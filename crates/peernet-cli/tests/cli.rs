//! The `peernet` binary as a user runs it: output, JSON lines, exit codes, error lines.
//!
//! Every process a test starts is a [`Proc`], killed and reaped when it is dropped (also when an
//! assertion fails), and every wait for a process or a line of its output has a deadline, so a
//! hang fails the test instead of stalling the run. The deadline is generous: it only turns a hang
//! into a failure and says nothing about speed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any one wait may take: for a command to exit, or for a line of its output.
const DEADLINE: Duration = Duration::from_secs(120);

/// A running `peernet` process. Its stdout and stderr are read by threads into channels (so it
/// never blocks on a full pipe), and dropping it kills and reaps the process.
struct Proc {
    child: Child,
    /// `peernet ARGS`, for messages.
    what: String,
    stdout: Receiver<Vec<u8>>,
    stderr: Receiver<Vec<u8>>,
    /// Set once the process has been reaped.
    status: Option<ExitStatus>,
}

/// Reads `from` line by line (each with its `\n`) into a channel until end of file.
fn read_lines(from: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut from = BufReader::new(from);
        loop {
            let mut line = Vec::new();
            match from.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                // Keep draining even when nobody listens any more: a full pipe would stall it.
                Ok(_) => {
                    let _ = tx.send(line);
                }
            }
        }
    });
    rx
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

impl Proc {
    fn spawn(args: &[&str]) -> Proc {
        let what = format!("peernet {}", args.join(" "));
        let mut child = Command::new(env!("CARGO_BIN_EXE_peernet"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = read_lines(child.stdout.take().expect("piped stdout"));
        let stderr = read_lines(child.stderr.take().expect("piped stderr"));
        Proc {
            child,
            what,
            stdout,
            stderr,
            status: None,
        }
    }

    /// The next line on stdout, without its line ending.
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(DEADLINE) {
            Ok(line) => text(&line),
            Err(e) => self.fail(&format!("no line on stdout ({e:?})")),
        }
    }

    /// The next line on stderr, without its line ending.
    fn stderr_line(&mut self) -> String {
        match self.stderr.recv_timeout(DEADLINE) {
            Ok(line) => text(&line),
            Err(e) => self.fail(&format!("no line on stderr ({e:?})")),
        }
    }

    /// Waits for the process to exit.
    fn wait(&mut self) -> ExitStatus {
        let give_up = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.status {
                return status;
            }
            match self.child.try_wait() {
                Ok(Some(status)) => self.status = Some(status),
                Ok(None) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(None) => self.fail(&format!("still running after {DEADLINE:?}")),
                Err(e) => self.fail(&format!("cannot wait for it: {e}")),
            }
        }
    }

    /// Sends SIGTERM (a failed `kill` fails the test) and waits for the process to exit.
    fn terminate(&mut self) -> ExitStatus {
        if self.status.is_none() {
            let pid = self.child.id().to_string();
            let kill = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
            assert!(kill.success(), "kill -TERM {pid} ({}): {kill}", self.what);
        }
        self.wait()
    }

    /// Everything left on `rx` until the process closes the pipe.
    fn rest(&mut self, stderr: bool) -> Vec<u8> {
        let give_up = Instant::now() + DEADLINE;
        let mut all = Vec::new();
        loop {
            let rx = if stderr { &self.stderr } else { &self.stdout };
            match rx.recv_timeout(give_up.saturating_duration_since(Instant::now())) {
                Ok(line) => all.extend_from_slice(&line),
                Err(RecvTimeoutError::Disconnected) => return all,
                Err(RecvTimeoutError::Timeout) => self.fail("its output did not end"),
            }
        }
    }

    /// Runs to completion: the process's status, stdout and stderr.
    fn output(mut self) -> Output {
        let status = self.wait();
        let stdout = self.rest(false);
        let stderr = self.rest(true);
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// Fails the test, with what the process printed on stderr so far.
    fn fail(&mut self, why: &str) -> ! {
        let state = match self.child.try_wait() {
            Ok(Some(status)) => {
                self.status = Some(status);
                format!("exited: {status}")
            }
            _ => "still running".to_owned(),
        };
        let err: Vec<String> = self.stderr.try_iter().map(|l| text(&l)).collect();
        panic!(
            "{}: {why}; it is {state}; its stderr so far:\n{}",
            self.what,
            err.join("\n")
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            // SIGKILL cannot be ignored, so the wait that follows is bounded.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `peernet ARGS` to completion (within [`DEADLINE`]).
fn peernet(args: &[&str]) -> Output {
    Proc::spawn(args).output()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn id_from_seed_matches_rust_libp2p_convention() {
    let o = peernet(&["id", "--seed", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X"
    );

    let o = peernet(&["--json", "id", "--seed", "1"]);
    assert_eq!(
        stdout(&o).trim(),
        r#"{"type":"id","peer":"12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X","key_type":"Ed25519"}"#
    );
}

#[test]
fn generated_key_files_load_back() {
    let dir = std::env::temp_dir().join(format!("peernet-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (kind, prefix) in [
        ("ed25519", "12D3KooW"),
        ("secp256k1", "16Uiu2"),
        ("ecdsa", "Qm"),
    ] {
        let path = dir.join(format!("{kind}.key"));
        let _ = std::fs::remove_file(&path);
        let o = peernet(&[
            "--json",
            "key",
            "generate",
            "--type",
            kind,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let generated: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        let o = peernet(&["id", "--key", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).trim(), generated["peer"].as_str().unwrap());
        assert!(stdout(&o).starts_with(prefix), "{kind}: {}", stdout(&o));
        // Never overwrite a key.
        let o = peernet(&[
            "key",
            "generate",
            "--type",
            kind,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_are_one_error_line_and_nonzero_exit() {
    let junk = std::env::temp_dir().join(format!("peernet-junk-{}", std::process::id()));
    std::fs::write(&junk, b"\xff\xff\xff not a key").unwrap();
    let o = peernet(&["id", "--key", junk.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.starts_with("error: key file"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    std::fs::remove_file(&junk).unwrap();

    let o = peernet(&["id", "--key", "/nonexistent/peernet.key"]);
    assert!(!o.status.success());
    assert!(stderr(&o).starts_with("error: cannot read key file"));
}

#[test]
fn help_explains_the_commands() {
    let o = peernet(&["--help"]);
    assert!(o.status.success());
    let help = stdout(&o);
    for cmd in [
        "id", "key", "listen", "ping", "echo", "identify", "perf", "demo", "devp2p",
    ] {
        assert!(help.contains(&format!("  {cmd} ")), "--help lacks {cmd}");
    }
}

/// A `peernet --json listen` process (killed on drop; [`ListenNode::stop`] sends SIGTERM).
struct ListenNode {
    proc: Proc,
    addr: String,
    /// The metrics endpoint's URL, with `--metrics`.
    metrics: Option<String>,
}

impl ListenNode {
    fn start(extra: &[&str]) -> ListenNode {
        let mut args = vec!["--json", "listen", "--ip", "127.0.0.1"];
        args.extend_from_slice(extra);
        let mut proc = Proc::spawn(&args);
        let mut line = proc.line();
        // With --metrics, the endpoint's line comes before the listen addresses.
        let mut metrics = None;
        let first: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        if first["type"] == "metrics" {
            metrics = Some(first["url"].as_str().unwrap().to_owned());
            line = proc.line();
        }
        // The node prints a line per listen address; the reading thread keeps draining them.
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        assert_eq!(v["type"], "listen");
        let addr = v["addr"].as_str().unwrap().to_owned();
        ListenNode {
            proc,
            addr,
            metrics,
        }
    }

    fn stop(mut self) -> ExitStatus {
        self.proc.terminate()
    }
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn listen_serves_ping_echo_and_perf_then_exits_cleanly_on_sigterm() {
    let node = ListenNode::start(&["--seed", "7"]);
    assert!(node.addr.starts_with("/ip4/127.0.0.1/tcp/"));
    assert!(
        node.addr
            .ends_with("/p2p/12D3KooWLnZUpcaBwbz9uD1XsyyHnbXUrJRmxnsMiRnuCmvPix67"),
        "{}",
        node.addr
    );

    let o = peernet(&["--json", "ping", &node.addr, "--count", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pings = json_lines(&o);
    assert_eq!(pings.len(), 2);
    assert!(pings
        .iter()
        .all(|p| p["type"] == "ping" && p["rtt_us"].as_u64().is_some()));

    for security in ["noise", "tls"] {
        let o = peernet(&[
            "--json",
            "echo",
            &node.addr,
            "hello peernet",
            "--security",
            security,
        ]);
        assert!(o.status.success(), "{security}: {}", stderr(&o));
        assert_eq!(
            stdout(&o).trim(),
            r#"{"type":"echo","text":"hello peernet"}"#
        );
    }

    let o = peernet(&[
        "--json",
        "perf",
        &node.addr,
        "--upload-bytes",
        "1MiB",
        "--download-bytes",
        "2MiB",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = json_lines(&o).pop().unwrap();
    assert_eq!(last["type"], "final");
    assert_eq!(last["uploadBytes"], 1 << 20);
    assert_eq!(last["downloadBytes"], 2 << 20);

    let o = peernet(&["--json", "perf", &node.addr, "--repeat", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let latency = json_lines(&o).pop().unwrap();
    assert_eq!(latency["type"], "latency");
    assert_eq!(latency["n"], 3);

    assert!(node.stop().success(), "listen must exit 0 on SIGTERM");
}

#[test]
fn insecure_listener_and_dialer_agree_and_a_wrong_peer_is_refused() {
    let node = ListenNode::start(&["--insecure"]);
    let o = peernet(&["--json", "echo", &node.addr, "clear", "--insecure"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), r#"{"type":"echo","text":"clear"}"#);
    // A secure dialer finds no common security protocol.
    let o = peernet(&["echo", &node.addr, "x"]);
    assert!(!o.status.success());
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    node.stop();

    let node = ListenNode::start(&["--seed", "8"]);
    let base = node.addr.rsplit_once("/p2p/").unwrap().0;
    let wrong = format!("{base}/p2p/12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X");
    let o = peernet(&["echo", &wrong, "x"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("was expected"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    node.stop();
}

#[test]
fn identify_reports_what_the_listener_serves() {
    let node = ListenNode::start(&["--seed", "7"]);
    let o = peernet(&["--json", "identify", &node.addr, "--seed", "9"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1, "{out}");
    let v = &lines[0];
    // The fields in the documented order.
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "type",
            "peer",
            "agent_version",
            "protocol_version",
            "protocols",
            "listen_addrs",
            "observed_addr"
        ]
    );
    assert_eq!(v["type"], "identify");
    assert_eq!(
        v["peer"],
        "12D3KooWLnZUpcaBwbz9uD1XsyyHnbXUrJRmxnsMiRnuCmvPix67"
    );
    assert!(v["agent_version"].as_str().unwrap().starts_with("peernet/"));
    assert_eq!(v["protocol_version"], "ipfs/0.1.0");
    let protocols: Vec<&str> = v["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for p in [
        "/ipfs/id/1.0.0",
        "/ipfs/id/push/1.0.0",
        "/ipfs/ping/1.0.0",
        "/echo/1.0.0",
        "/perf/1.0.0",
    ] {
        assert!(protocols.contains(&p), "{p} missing from {protocols:?}");
    }
    let base = node.addr.rsplit_once("/p2p/").unwrap().0;
    assert!(
        v["listen_addrs"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(base)),
        "{v}"
    );
    assert!(v["observed_addr"]
        .as_str()
        .unwrap()
        .starts_with("/ip4/127.0.0.1/tcp/"));

    // Human output names the agent and the protocols.
    let o = peernet(&["identify", &node.addr]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("/ipfs/ping/1.0.0"), "{}", stdout(&o));
    assert!(node.stop().success());
}

#[test]
fn dialing_gives_up_after_the_timeout() {
    // A TCP listener that never answers the handshake.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("/ip4/127.0.0.1/tcp/{}", silent.local_addr().unwrap().port());
    let o = peernet(&["--timeout", "1", "ping", &addr]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("timed out after 1s"), "{}", stderr(&o));
}

/// Ping, echo and identify against `addr`; identify must list a listen address containing
/// `marker` (the transport under test).
fn ping_echo_identify(addr: &str, marker: &str) {
    let o = peernet(&["--json", "ping", addr]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["type"], "ping");
    let text = format!("over {marker}");
    let o = peernet(&["--json", "echo", addr, &text]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        json_lines(&o)[0],
        serde_json::json!({"type": "echo", "text": text})
    );
    let o = peernet(&["--json", "identify", addr]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = &json_lines(&o)[0];
    assert!(
        id["listen_addrs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains(marker)),
        "{id}"
    );
}

#[test]
fn quic_listen_ping_echo_and_identify() {
    let node = ListenNode::start(&["--quic", "0"]);
    assert!(
        node.addr.contains("/udp/") && node.addr.contains("/quic-v1/p2p/"),
        "{}",
        node.addr
    );
    ping_echo_identify(&node.addr, "quic-v1");
    // QUIC needs TLS: an insecure dialer says so instead of trying.
    let o = peernet(&["echo", &node.addr, "x", "--insecure"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("TLS"), "{}", stderr(&o));
    assert!(node.stop().success());
}

#[test]
fn websocket_listen_ping_echo_identify_and_perf() {
    let node = ListenNode::start(&["--ws", "0"]);
    assert!(
        node.addr.contains("/tcp/") && node.addr.contains("/ws/p2p/"),
        "{}",
        node.addr
    );
    ping_echo_identify(&node.addr, "/ws");
    let o = peernet(&[
        "--json",
        "perf",
        &node.addr,
        "--upload-bytes",
        "1MiB",
        "--download-bytes",
        "2MiB",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = json_lines(&o).pop().unwrap();
    assert_eq!(last["type"], "final");
    assert_eq!(last["downloadBytes"], 2 << 20);
    // Secure WebSocket is refused with a clear error, not a hang.
    let o = peernet(&["echo", "/ip4/127.0.0.1/tcp/1/wss", "x"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("needs a TLS configuration"),
        "{}",
        stderr(&o)
    );
    assert!(node.stop().success());
}

#[test]
fn demo_runs_every_combination() {
    let o = peernet(&["--json", "demo", "--perf-bytes", "1MiB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_lines(&o);
    let combos: Vec<String> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "demo");
            assert_eq!(r["echo"], true, "{r}");
            // The server announces at least identify, ping, echo and perf.
            assert!(r["protocols"].as_u64().unwrap() >= 4, "{r}");
            format!(
                "{}/{}/{}",
                r["transport"].as_str().unwrap(),
                r["security"].as_str().unwrap(),
                r["muxer"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "tcp/noise/yamux",
        "tcp/tls/yamux",
        "tcp/plaintext/yamux",
        "quic-v1/tls/quic",
        "ws/noise/yamux",
        "ws/tls/yamux",
        "memory/noise/yamux",
    ] {
        assert!(
            combos.iter().any(|c| c == expected),
            "{expected} missing from {combos:?}"
        );
    }
}

/// GETs `url` (`http://HOST:PORT/PATH`) and returns the status line and the body.
fn http_get(url: &str) -> (String, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut socket =
        std::net::TcpStream::connect_timeout(&host.parse().unwrap(), DEADLINE).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    socket.set_write_timeout(Some(DEADLINE)).unwrap();
    write!(socket, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// The value of the sample `series` in a metrics text, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn listen_metrics_endpoint_counts_a_ping() {
    let node = ListenNode::start(&["--metrics", "127.0.0.1:0"]);
    let url = node.metrics.clone().expect("a metrics line");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );
    let opened = r#"peernet_connections_opened_total{transport="tcp",direction="inbound",security="/noise",muxer="/yamux/1.0.0"}"#;
    let ping_read = r#"peernet_stream_bytes_total{protocol="/ipfs/ping/1.0.0",direction="read"}"#;
    let (status, before) = http_get(&url);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(sample(&before, opened), None, "{before}");

    let o = peernet(&["--json", "ping", &node.addr, "--count", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let (status, after) = http_get(&url);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(sample(&after, opened), Some(1.0), "{after}");
    assert_eq!(sample(&after, ping_read), Some(64.0), "{after}");
    assert!(after.ends_with("# EOF\n"));
    let (status, _) = http_get(&url.replace("/metrics", "/other"));
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // Human output names the endpoint too.
    let mut human = Proc::spawn(&["listen", "--ip", "127.0.0.1", "--metrics", "127.0.0.1:0"]);
    let line = human.line();
    // Let it finish its startup output ("peer id" comes last) before stopping it.
    while !human.line().starts_with("peer id") {}
    let human_url = line.trim().strip_prefix("metrics on ").unwrap_or_default();
    assert!(human_url.starts_with("http://127.0.0.1:"), "{line}");
    assert_eq!(http_get(human_url).0, "HTTP/1.1 200 OK");
    // Killed on drop. (Its exit status is not checked: a SIGTERM may land before its handler is
    // installed.)
    drop(human);
    assert!(node.stop().success());
}

#[test]
fn dns_addresses_are_resolved_for_every_transport() {
    // TCP and QUIC: `/ip4/127.0.0.1` becomes `/dns4/localhost`.
    let node = ListenNode::start(&[]);
    let by_name = node.addr.replace("/ip4/127.0.0.1/", "/dns4/localhost/");
    assert!(by_name.starts_with("/dns4/localhost/tcp/"), "{by_name}");
    let o = peernet(&["--json", "ping", &by_name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_lines(&o)[0]["type"], "ping");
    assert!(node.stop().success());
    let node = ListenNode::start(&["--quic", "0"]);
    ping_echo_identify(
        &node.addr.replace("/ip4/127.0.0.1/", "/dns/localhost/"),
        "quic-v1",
    );
    assert!(node.stop().success());
    let node = ListenNode::start(&["--ws", "0"]);
    ping_echo_identify(
        &node.addr.replace("/ip4/127.0.0.1/", "/dns4/localhost/"),
        "/ws",
    );
    assert!(node.stop().success());
    // A name that resolves to nothing: one error line naming the name.
    let o = peernet(&["ping", "/dns4/no-such-node.invalid/tcp/4001"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("DNS name no-such-node.invalid resolved to no address"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn secure_websocket_listen_with_a_certificate_and_dial_with_a_ca() {
    let dir = std::env::temp_dir().join(format!("peernet-cli-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A CA, and a certificate for `localhost` it signed, as PEM files.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();

    let node = ListenNode::start(&[
        "--wss",
        "0",
        "--cert",
        cert_pem.to_str().unwrap(),
        "--cert-key",
        key_pem.to_str().unwrap(),
    ]);
    assert!(node.addr.contains("/tls/ws/p2p/"), "{}", node.addr);
    let by_name = node.addr.replace("/ip4/127.0.0.1/", "/dns4/localhost/");
    // Trusting the CA: ping over /tls/ws by name, and over the older /wss spelling.
    for addr in [by_name.clone(), by_name.replace("/tls/ws/", "/wss/")] {
        let o = peernet(&["--json", "ping", &addr, "--ca", ca_pem.to_str().unwrap()]);
        assert!(o.status.success(), "{addr}: {}", stderr(&o));
        assert_eq!(json_lines(&o)[0]["type"], "ping");
    }
    // Without the CA: refused with the reason, not a hang.
    let o = peernet(&["ping", &by_name]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("needs a TLS configuration"),
        "{}",
        stderr(&o)
    );
    // With the CA but at an IP the certificate is not for: the TLS handshake fails.
    let o = peernet(&["ping", &node.addr, "--ca", ca_pem.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("TLS handshake failed"),
        "{}",
        stderr(&o)
    );
    assert!(node.stop().success());
    // --wss without a certificate is a usage error.
    let o = peernet(&["listen", "--wss", "0"]);
    assert!(!o.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `peernet --json devp2p listen` on a free port: the process and its enode.
fn devp2p_listener(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["--json", "devp2p", "listen", "--port", "0"];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn(&args);
    let line = proc.line();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
    assert_eq!(v["type"], "listen", "{v}");
    let enode = v["enode"].as_str().unwrap().to_owned();
    (proc, enode)
}

/// `enode://ID@IP:PORT` split into ID and IP:PORT.
fn enode_parts(enode: &str) -> (&str, &str) {
    enode
        .strip_prefix("enode://")
        .and_then(|rest| rest.split_once('@'))
        .unwrap_or_else(|| panic!("not an enode: {enode}"))
}

#[test]
fn devp2p_dial_completes_the_handshake_with_a_listener_and_both_exit() {
    let (mut listener, enode) = devp2p_listener(&["--seed", "5", "--cap", "eth/68/17"]);
    let (id, addr) = enode_parts(&enode);
    assert_eq!(id.len(), 128, "{enode}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{enode}");
    assert!(addr.starts_with("127.0.0.1:"), "{enode}");

    // The dial prints the listener's Hello, then a ping, then disconnects and exits 0.
    let o = peernet(&["--json", "devp2p", "dial", &enode, "--cap", "eth/68/17"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 2, "{}", stdout(&o));
    let hello = &lines[0];
    let keys: Vec<&str> = hello
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["type", "node_id", "client_id", "caps", "p2p_version"],
        "{hello}"
    );
    assert_eq!(hello["type"], "hello");
    assert_eq!(
        hello["node_id"], id,
        "the Hello must come from the enode we dialed"
    );
    assert!(
        hello["client_id"].as_str().unwrap().starts_with("peernet"),
        "{hello}"
    );
    assert_eq!(hello["caps"], serde_json::json!(["eth/68"]));
    assert_eq!(hello["p2p_version"], 5);
    assert_eq!(lines[1]["type"], "ping", "{}", lines[1]);
    assert!(lines[1]["rtt_us"].as_u64().is_some(), "{}", lines[1]);

    // The listener saw the inbound peer share eth/68, then saw it leave.
    let added = listener.stderr_line();
    assert!(added.starts_with("peer added: "), "{added}");
    assert!(
        added.contains(" inbound ") && added.ends_with("caps [eth/68]"),
        "{added}"
    );
    let removed = listener.stderr_line();
    assert!(removed.starts_with("peer removed: "), "{removed}");

    // Human output names the node and its capabilities too.
    let o = peernet(&["devp2p", "dial", &enode, "--cap", "eth/68/17"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("hello from {id} (")), "{out}");
    assert!(out.contains("p2p v5, caps [eth/68]"), "{out}");

    assert!(
        listener.terminate().success(),
        "devp2p listen must exit 0 on SIGTERM"
    );
}

#[test]
fn devp2p_dial_to_a_wrong_port_or_a_wrong_node_id_fails_with_one_error_line() {
    let (listener, enode) = devp2p_listener(&["--seed", "6"]);
    let (id, addr) = enode_parts(&enode);

    // Nothing listens on the port a just-closed socket had.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nobody = format!("enode://{id}@127.0.0.1:{port}");
    let o = peernet(&["--timeout", "10", "devp2p", "dial", &nobody]);
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    // The right address, but another node's id (seed 1's): the handshake cannot succeed.
    let (other_node, other) = devp2p_listener(&["--seed", "1"]);
    drop(other_node); // only its id is needed
    let (other_id, _) = enode_parts(&other);
    assert_ne!(other_id, id);
    let wrong = format!("enode://{other_id}@{addr}");
    let o = peernet(&["--timeout", "10", "devp2p", "dial", &wrong]);
    assert!(!o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o), "", "no Hello from a node with another id");
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    drop(listener);
}
