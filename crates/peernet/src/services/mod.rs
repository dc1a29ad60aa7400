//! The small protocols every node serves: ping, echo and perf. Each has a handler for the
//! listening side (give it a negotiated [`Stream`](crate::Stream)) and a client function.

pub mod echo;
pub mod perf;
pub mod ping;
