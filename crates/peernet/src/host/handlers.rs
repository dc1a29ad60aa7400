//! The host's stream handlers. Every change to the set is announced to connected peers with
//! identify push.

use std::future::Future;

use crate::connection::Stream;
use crate::host::basic::Host;
use crate::host::identify;

impl Host {
    fn note_protocol(&self, protocol: &str, present: bool) {
        let changed = {
            let mut list = self
                .inner
                .protocols
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let had = list.iter().any(|p| p == protocol);
            if present && !had {
                list.push(protocol.to_owned());
            } else if !present {
                list.retain(|p| p != protocol);
            }
            had != present
        };
        if changed {
            identify::push_to_all(self);
        }
    }

    /// Serves inbound streams negotiated to `protocol` with `handler`, each on its own task;
    /// replaces an earlier handler for `protocol`. Connected peers that support identify push
    /// learn of a new protocol.
    pub fn set_stream_handler<F, Fut>(&self, protocol: &str, handler: F)
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.swarm.set_stream_handler(protocol, handler);
        self.note_protocol(protocol, true);
    }

    /// Like [`set_stream_handler`](Self::set_stream_handler), and the handler also serves every
    /// protocol a remote proposes for which `matches` is true (go's `SetStreamHandlerMatch`,
    /// e.g. to accept several versions). `protocol` is what identify announces. `matches` runs
    /// under the swarm's lock: it must be quick and must not call into the host.
    pub fn set_stream_handler_match<M, F, Fut>(&self, protocol: &str, matches: M, handler: F)
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner
            .swarm
            .set_stream_handler_match(protocol, matches, handler);
        self.note_protocol(protocol, true);
    }

    /// Stops serving `protocol`, and tells connected peers that support identify push.
    pub fn remove_stream_handler(&self, protocol: &str) {
        self.inner.swarm.remove_stream_handler(protocol);
        self.note_protocol(protocol, false);
    }
}
