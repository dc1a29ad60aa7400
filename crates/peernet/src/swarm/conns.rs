//! The connection table: connections by peer, the best one to use, joining and leaving (go's
//! `addConn`, `removeConn`, `bestConnToPeer`).

use peernet_core::PeerId;

use crate::connection::Connection;
use crate::resource::ResourceError;
use crate::swarm::error::SwarmError;
use crate::swarm::inbound;
use crate::swarm::state::{ConnEntry, Swarm, SwarmEvent, CLOSE_TIMEOUT};

/// go's `isBetterConn`: unlimited (not relayed) first, then more streams, then the newest.
/// We learn a connection is limited only from a relayed address; streams counted are every
/// negotiated stream open on the connection, both directions.
fn is_better_conn(a: &ConnEntry, b: &ConnEntry) -> bool {
    let (a_relayed, b_relayed) = (
        a.conn.remote_addr().is_relayed(),
        b.conn.remote_addr().is_relayed(),
    );
    if a_relayed != b_relayed {
        return !a_relayed;
    }
    let (a_streams, b_streams) = (a.conn.num_streams(), b.conn.num_streams());
    if a_streams != b_streams {
        return a_streams > b_streams;
    }
    a.conn.opened_at() > b.conn.opened_at()
}

impl Swarm {
    /// The live connections to `peer`.
    pub fn conns_to_peer(&self, peer: &PeerId) -> Vec<Connection> {
        self.state()
            .conns
            .get(peer)
            .map(|v| v.iter().map(|e| e.conn.clone()).collect())
            .unwrap_or_default()
    }

    /// Peers with at least one live connection.
    pub fn peers(&self) -> Vec<PeerId> {
        self.state().conns.keys().cloned().collect()
    }

    /// The connection to use for `peer` (go's `bestConnToPeer`): not relayed first, then the
    /// one with more streams, then the newest.
    pub fn best_conn(&self, peer: &PeerId) -> Option<Connection> {
        let st = self.state();
        let mut best: Option<&ConnEntry> = None;
        for entry in st.conns.get(peer)?.iter().filter(|e| !e.conn.is_closed()) {
            if best.is_none_or(|b| is_better_conn(entry, b)) {
                best = Some(entry);
            }
        }
        best.map(|e| e.conn.clone())
    }

    /// Closes every connection to `peer` (go's `ClosePeer`); each leaves the table with a
    /// [`SwarmEvent::Disconnected`].
    pub async fn close_peer(&self, peer: &PeerId) {
        for conn in self.conns_to_peer(peer) {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close()).await;
            self.remove_conn(&conn);
        }
    }

    /// Adds a connection to the table (go's `addConn`) after the gater's checks, announces it
    /// and starts accepting its streams. A refused connection is closed.
    pub(super) fn add_conn(&self, conn: Connection) -> Result<(), SwarmError> {
        if let Err((step, reason)) = self.inner.gater.check_connection(&conn) {
            tracing::debug!(peer = %conn.remote_peer(), %step, %reason, "connection gated");
            let c = conn.clone();
            self.spawn(async move { c.close().await });
            return Err(SwarmError::Gated { step, reason });
        }
        if let Err(e) = self.take_resources(&conn) {
            tracing::debug!(peer = %conn.remote_peer(), error = %e, "connection refused");
            let c = conn.clone();
            self.spawn(async move { c.close().await });
            return Err(e.into());
        }
        {
            let mut st = self.state();
            if st.closed {
                drop(st);
                let c = conn.clone();
                tokio::spawn(async move { c.close().await });
                return Err(SwarmError::Closed);
            }
            let peer = conn.remote_peer().clone();
            st.conns
                .entry(peer.clone())
                .or_default()
                .push(ConnEntry { conn: conn.clone() });
            st.dial_sync.connection_established(&peer);
            if let Some(m) = &self.inner.metrics {
                conn.set_metrics(m.clone());
                m.conn_opened(&conn.metrics_facts());
            }
            let _ = self.inner.events.send(SwarmEvent::Connected {
                peer,
                conn: conn.id(),
                direction: conn.direction(),
                remote_addr: conn.remote_addr().clone(),
            });
        }
        tracing::debug!(peer = %conn.remote_peer(), conn = %conn.id(), direction = ?conn.direction(), "connected");
        self.spawn(inbound::run_conn(self.clone(), conn));
        Ok(())
    }

    /// Gives a connection our upgrader did not make (QUIC) its resource permit, checking
    /// every connection limit at once.
    fn take_resources(&self, conn: &Connection) -> Result<(), ResourceError> {
        if conn.has_resources() {
            return Ok(());
        }
        let ip = conn.remote_addr().ip_addr();
        let mut permit = self.inner.resources.open_connection(conn.direction(), ip)?;
        permit.set_peer(conn.remote_peer())?;
        permit.handshake_done();
        conn.set_resources(permit);
        Ok(())
    }

    /// Takes `conn` out of the table, announcing it once.
    pub(super) fn remove_conn(&self, conn: &Connection) {
        conn.release_resources();
        let mut st = self.state();
        let peer = conn.remote_peer();
        let Some(entries) = st.conns.get_mut(peer) else {
            return;
        };
        let before = entries.len();
        entries.retain(|e| e.conn.id() != conn.id());
        let removed = entries.len() != before;
        if entries.is_empty() {
            st.conns.remove(peer);
        }
        if removed {
            if let Some(m) = &self.inner.metrics {
                m.conn_closed(&conn.metrics_facts());
            }
            let _ = self.inner.events.send(SwarmEvent::Disconnected {
                peer: peer.clone(),
                conn: conn.id(),
            });
        }
    }
}
