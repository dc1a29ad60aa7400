//! Interop tests and side-by-side benchmarks against rust-libp2p live in `tests/` and `benches/`.
