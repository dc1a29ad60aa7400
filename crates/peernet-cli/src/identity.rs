//! `peernet id` and `peernet key generate`.

use std::path::Path;

use crate::output::{not_implemented, Output, Result};
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

/// `peernet id`.
pub fn print_id(_identity: &IdentityArgs, _out: Output) -> Result<()> {
    Err(not_implemented("id"))
}

/// `peernet key generate`.
pub fn generate(_key_type: KeyTypeArg, _path: &Path, _out: Output) -> Result<()> {
    Err(not_implemented("key generate"))
}
