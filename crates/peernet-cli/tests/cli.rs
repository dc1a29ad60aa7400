//! The `peernet` binary as a user runs it: output, JSON lines, exit codes, error lines.

use std::process::{Command, Output};

fn peernet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peernet"))
        .args(args)
        .output()
        .expect("run peernet")
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
