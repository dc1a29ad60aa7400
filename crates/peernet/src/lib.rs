//! # peernet
//!
//! A peer-to-peer networking stack on tokio, wire-compatible with libp2p.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub use peernet_core as core;

pub mod tls;
