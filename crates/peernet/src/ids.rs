//! The leaf every runtime module may import: how a connection is named and who opened it.
//!
//! It imports nothing from the crate, so that the resource manager, the metrics and the
//! transports can speak of connections without depending on [`crate::connection`].

use std::sync::atomic::{AtomicU64, Ordering};

pub use peernet_core::dial::ConnectionId;

/// A fresh [`ConnectionId`], unique within this process; the swarm's dial worker is told the
/// same id when one of its dials succeeds.
pub(crate) fn next_connection_id() -> ConnectionId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    ConnectionId(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Who opened a connection or stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We dialed.
    Outbound,
    /// The remote dialed us.
    Inbound,
}
