//! What comes in: the stream handlers, each listener's accept loop, and every inbound stream,
//! negotiated against the handlers and served on a task of its own.

use std::future::Future;
use std::sync::Arc;

use crate::connection::{Connection, InboundStream, Stream};
use crate::swarm::state::{own_addrs, Handler, MatchFn, State, Swarm, SwarmEvent};
use crate::transport::Listener;

impl Swarm {
    /// Serves inbound streams negotiated to `protocol` with `handler`, on a task per stream
    /// (replaces an earlier handler for the same protocol).
    pub fn set_stream_handler<F, Fut>(&self, protocol: &str, handler: F)
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s| Box::pin(handler(s)));
        if let Some(m) = &self.inner.metrics {
            m.allow_protocol(protocol);
        }
        self.state()
            .handlers
            .insert(protocol.to_owned(), (None, handler));
    }

    /// Like [`set_stream_handler`](Self::set_stream_handler), but the handler also serves every
    /// protocol a remote proposes for which `matches` returns true (go's
    /// `SetStreamHandlerMatch`); `protocol` is what `ls` lists and what replaces or removes it.
    /// An exact match on a registered protocol wins over a match function.
    pub fn set_stream_handler_match<M, F, Fut>(&self, protocol: &str, matches: M, handler: F)
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s| Box::pin(handler(s)));
        let matches: MatchFn = Arc::new(matches);
        if let Some(m) = &self.inner.metrics {
            m.allow_protocol(protocol);
        }
        self.state()
            .handlers
            .insert(protocol.to_owned(), (Some(matches), handler));
    }

    /// Stops serving `protocol`.
    pub fn remove_stream_handler(&self, protocol: &str) {
        self.state().handlers.remove(protocol);
    }
}

pub(super) async fn accept_loop(swarm: Swarm, mut listener: Listener) {
    let local = listener.local_addr().clone();
    while let Some(conn) = listener.accept().await {
        if let Err(e) = swarm.add_conn(conn) {
            tracing::debug!(error = %e, "inbound connection refused");
        }
    }
    let mut st = swarm.state();
    let before = st.listen_addrs.len();
    st.listen_addrs.retain(|a| a != &local);
    if st.listen_addrs.len() != before {
        let listen_addrs = own_addrs(&st.listen_addrs);
        st.dial_sync.set_listen_addrs(listen_addrs);
        let _ = swarm
            .inner
            .events
            .send(SwarmEvent::ListenClose { addr: local });
    }
}

/// Accepts the connection's streams until it closes (go's `Conn.start`), each negotiated and
/// served on its own task, then takes it out of the table.
pub(super) async fn run_conn(swarm: Swarm, conn: Connection) {
    while let Some(inbound) = conn.accept_stream().await {
        swarm.spawn(serve_inbound(swarm.clone(), inbound));
    }
    swarm.remove_conn(&conn);
}

/// The handler for `protocol`: the exact registration, else the first whose match function
/// accepts it.
fn find_handler(st: &State, protocol: &str) -> Option<Handler> {
    if let Some((_, h)) = st.handlers.get(protocol) {
        return Some(h.clone());
    }
    st.handlers
        .values()
        .find(|(m, _)| m.as_ref().is_some_and(|m| m(protocol)))
        .map(|(_, h)| h.clone())
}

/// Negotiates an inbound stream against the registered handlers and runs the chosen one.
async fn serve_inbound(swarm: Swarm, inbound: InboundStream) {
    let peer = inbound.remote_peer().clone();
    let lookup = swarm.clone();
    let mut supported = move |p: &str| find_handler(&lookup.state(), p).is_some();
    let lister = swarm.clone();
    let list = move || lister.state().handlers.keys().cloned().collect::<Vec<_>>();
    // Boxed: the negotiation's state is freed when it ends instead of sizing the task that
    // lives as long as the handler (≈1.5 KiB per idle stream).
    let stream = match Box::pin(inbound.negotiate(&mut supported, &list)).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(%peer, error = %peernet_core::error::Chain(&e), "inbound stream negotiation failed");
            return;
        }
    };
    let handler = find_handler(&swarm.state(), stream.protocol());
    let Some(handler) = handler else {
        return; // removed while negotiating
    };
    let protocol = stream.protocol().to_owned();
    // A panicking handler loses its stream (and the stream's permit) and nothing else.
    let run = std::panic::AssertUnwindSafe(handler(stream));
    if futures_util::FutureExt::catch_unwind(run).await.is_err() {
        tracing::warn!(%peer, %protocol, "stream handler panicked; its stream was dropped");
    }
}
