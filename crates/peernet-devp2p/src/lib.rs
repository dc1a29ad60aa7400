//! # peernet-devp2p
//!
//! RLPx and go-ethereum's Peer/Protocol model.
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]
