//! `peernet id`, `peernet key generate`, and loading our identity for every other command.

use std::path::Path;

use peernet_core::{KeyType, Keypair};
use serde_json::json;

use crate::output::{CliError, Output, Result};
use crate::IdentityArgs;

/// Key types `peernet key generate` can make.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KeyTypeArg {
    /// Ed25519 (the libp2p default).
    Ed25519,
    /// secp256k1 (Ethereum's curve).
    Secp256k1,
    /// ECDSA over P-256.
    Ecdsa,
}

/// Largest key file we read: protobuf private keys are well under 1 KiB.
const MAX_KEY_FILE: u64 = 16 * 1024;

/// Our identity from `--seed`, `--key`, or a fresh random Ed25519 key.
pub fn load(args: &IdentityArgs) -> Result<Keypair> {
    if let Some(seed) = args.seed {
        return Ok(Keypair::ed25519_from_seed(seed));
    }
    let Some(path) = &args.key else {
        return Ok(Keypair::generate_ed25519());
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError(format!("cannot read key file {}: {e}", path.display())))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(CliError(format!(
            "key file {} is {} bytes; a key file is at most {MAX_KEY_FILE}",
            path.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| CliError(format!("cannot read key file {}: {e}", path.display())))?;
    Keypair::from_protobuf_encoding(&bytes).map_err(|e| {
        CliError(format!(
            "key file {} is not a private key: {e}",
            path.display()
        ))
    })
}

/// `peernet id`.
pub fn print_id(args: &IdentityArgs, out: Output) -> Result<()> {
    let keypair = load(args)?;
    let peer_id = keypair.to_peer_id();
    out.emit(
        &peer_id,
        json!({"type": "id", "peer": peer_id.to_string(), "key_type": keypair.key_type().to_string()}),
    );
    Ok(())
}

/// `peernet key generate`.
pub fn generate(key_type: KeyTypeArg, path: &Path, out: Output) -> Result<()> {
    let keypair = match key_type {
        KeyTypeArg::Ed25519 => Keypair::generate_ed25519(),
        KeyTypeArg::Secp256k1 => Keypair::generate_secp256k1(),
        KeyTypeArg::Ecdsa => Keypair::generate_ecdsa(),
    };
    write_private(path, &keypair.to_protobuf_encoding())?;
    let peer_id = keypair.to_peer_id();
    let kind: KeyType = keypair.key_type();
    out.emit(
        format!("wrote {kind} key for {peer_id} to {}", path.display()),
        json!({"type": "key", "peer": peer_id.to_string(), "key_type": kind.to_string(), "path": path.display().to_string()}),
    );
    Ok(())
}

/// Writes a secret file readable by its owner only, refusing to overwrite.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| CliError(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(bytes)
        .map_err(|e| CliError(format!("cannot write {}: {e}", path.display())))
}
