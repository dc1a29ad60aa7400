//! Metrics of a node: connections, streams, bytes, dials and their outcomes, handshake
//! latency, ping round trips and identify exchanges, in Prometheus' OpenMetrics text format.
//!
//! Metrics are off unless asked for ([`HostBuilder::metrics`](crate::HostBuilder::metrics),
//! or [`SwarmConfig::metrics`](crate::SwarmConfig::metrics) for a bare swarm); when off, every
//! hook is one `Option` check. A [`Metrics`] handle is cheap to clone: clones share the
//! counters. [`Metrics::encode`] renders them; [`serve`] answers `GET /metrics` over HTTP/1.1
//! (`peernet listen --metrics ADDR` runs it).
//!
//! | family | type | labels |
//! |---|---|---|
//! | `peernet_connections_opened_total` | counter | `transport`, `direction`, `security`, `muxer` |
//! | `peernet_connections_closed_total` | counter | `transport`, `direction`, `security`, `muxer` |
//! | `peernet_connections` | gauge | `transport`, `direction` |
//! | `peernet_streams_opened_total` | counter | `protocol`, `direction` |
//! | `peernet_streams` | gauge | `protocol`, `direction` |
//! | `peernet_stream_bytes_total` | counter | `protocol`, `direction` (`read`, `written`) |
//! | `peernet_dials_total` | counter | `transport`, `outcome` (`success`, the error kind, or `aborted`) |
//! | `peernet_handshake_duration_seconds` | histogram | `transport`, `security` |
//! | `peernet_ping_rtt_seconds` | histogram | |
//! | `peernet_identify_total` | counter | `event` |
//!
//! Label values never come unchecked from the network. A stream's `protocol` label is its
//! protocol id only if we have a handler registered for exactly that id, or we opened a stream
//! with it ourselves; other ids (a match function may accept any) count as `other`. At most
//! [`MAX_PROTOCOL_LABELS`] ids get a label of their own, each at most
//! [`MAX_PROTOCOL_LABEL_LEN`] bytes of `[A-Za-z0-9/._+:@-]`.
//!
//! Stream bytes are counted in the stream's `poll_read`/`poll_write` with counters resolved
//! once when the stream is made: one relaxed atomic add per call. Bytes are the application's
//! (after protocol negotiation), not the wire's.

#[doc(hidden)]
pub mod fuzzing;
mod http;
#[cfg(test)]
mod tests;

pub use http::{serve, CONTENT_TYPE, MAX_CONNECTIONS, MAX_REQUEST_BYTES, REQUEST_TIMEOUT};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peernet_core::dial::AddrDialError;
use peernet_core::{Multiaddr, TransportKind};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::ids::Direction;

/// Distinct protocol ids that get a `protocol` label of their own; further ones count as
/// [`OTHER`].
pub const MAX_PROTOCOL_LABELS: usize = 64;
/// Longest protocol id used as a label value; longer ones count as [`OTHER`].
pub const MAX_PROTOCOL_LABEL_LEN: usize = 64;
/// The label value of everything not given a label of its own.
pub const OTHER: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnLabels {
    transport: &'static str,
    direction: &'static str,
    security: &'static str,
    muxer: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnGaugeLabels {
    transport: &'static str,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    protocol: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DialLabels {
    transport: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandshakeLabels {
    transport: &'static str,
    security: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IdentifyLabels {
    event: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn handshake_histogram() -> Histogram {
    // 1 ms … 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// What happened in an identify exchange, for `peernet_identify_total{event}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentifyEvent {
    /// We read and accepted a peer's identify answer.
    Received,
    /// Reading or checking a peer's identify answer failed.
    Failed,
    /// We answered a peer's identify request.
    Sent,
    /// We accepted a peer's identify push.
    PushReceived,
    /// A peer's identify push was refused (malformed, not its identity, I/O).
    PushRefused,
    /// We pushed our identify to a peer.
    PushSent,
}

impl IdentifyEvent {
    fn label(self) -> &'static str {
        match self {
            IdentifyEvent::Received => "received",
            IdentifyEvent::Failed => "failed",
            IdentifyEvent::Sent => "sent",
            IdentifyEvent::PushReceived => "push_received",
            IdentifyEvent::PushRefused => "push_refused",
            IdentifyEvent::PushSent => "push_sent",
        }
    }
}

struct Inner {
    registry: Registry,
    conns_opened: Family<ConnLabels, Counter>,
    conns_closed: Family<ConnLabels, Counter>,
    conns: Family<ConnGaugeLabels, Gauge>,
    streams_opened: Family<StreamLabels, Counter>,
    streams: Family<StreamLabels, Gauge>,
    stream_bytes: Family<StreamLabels, Counter>,
    dials: Family<DialLabels, Counter>,
    handshake: HistogramFamily<HandshakeLabels>,
    ping_rtt: Histogram,
    identify: Family<IdentifyLabels, Counter>,
    /// Protocol ids with a label of their own (at most [`MAX_PROTOCOL_LABELS`]).
    protocols: Mutex<HashSet<String>>,
}

/// The counters, gauges and histograms of a node, and their Prometheus registry. Cheap to
/// clone; clones share everything.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Per-stream handles, resolved once when the stream is made.
#[derive(Debug)]
pub(crate) struct StreamMetrics {
    /// Bytes the application read from the stream.
    pub read: Counter,
    /// Bytes the application wrote to the stream.
    pub written: Counter,
    /// The open-streams gauge of the stream's protocol and direction, decremented on drop.
    open: Gauge,
}

impl Drop for StreamMetrics {
    fn drop(&mut self) {
        self.open.dec();
    }
}

fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// The `transport` label of a connection or dial address.
pub(crate) fn transport_label(addr: &Multiaddr) -> &'static str {
    match addr.transport_kind() {
        TransportKind::Tcp => "tcp",
        TransportKind::QuicV1 => "quic-v1",
        TransportKind::WebSocket => "ws",
        TransportKind::Memory => "memory",
        TransportKind::Circuit => "circuit",
        _ => OTHER,
    }
}

/// The `outcome` label of a dial that failed with `error`.
fn dial_outcome(error: &AddrDialError) -> &'static str {
    match error {
        AddrDialError::Timeout => "timeout",
        AddrDialError::Cancelled => "cancelled",
        AddrDialError::Io(_) => "io",
        AddrDialError::Handshake(_) => "handshake",
        AddrDialError::PeerIdMismatch { .. } => "peer_id_mismatch",
        AddrDialError::Gated(_) => "gated",
        AddrDialError::NoTransport => "no_transport",
        AddrDialError::Backoff => "backoff",
        AddrDialError::BlackHole => "black_hole",
        AddrDialError::QuicDraft29 => "quic_draft29",
        AddrDialError::OwnListenAddr => "own_listen_addr",
        AddrDialError::Resolve(_) => "dns",
    }
}

/// Whether `protocol` may be a label value: short, and of characters that protocol ids use.
fn labelable(protocol: &str) -> bool {
    !protocol.is_empty()
        && protocol.len() <= MAX_PROTOCOL_LABEL_LEN
        && protocol
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._+:@-".contains(&b))
}

impl Metrics {
    /// Fresh metrics, every counter at zero, in a registry of their own.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let conns_opened = Family::<ConnLabels, Counter>::default();
        registry.register(
            "peernet_connections_opened",
            "Connections that joined the swarm (upgraded and admitted)",
            conns_opened.clone(),
        );
        let conns_closed = Family::<ConnLabels, Counter>::default();
        registry.register(
            "peernet_connections_closed",
            "Connections that left the swarm",
            conns_closed.clone(),
        );
        let conns = Family::<ConnGaugeLabels, Gauge>::default();
        registry.register(
            "peernet_connections",
            "Connections in the swarm now",
            conns.clone(),
        );
        let streams_opened = Family::<StreamLabels, Counter>::default();
        registry.register(
            "peernet_streams_opened",
            "Streams negotiated to a protocol",
            streams_opened.clone(),
        );
        let streams = Family::<StreamLabels, Gauge>::default();
        registry.register(
            "peernet_streams",
            "Negotiated streams open now",
            streams.clone(),
        );
        let stream_bytes = Family::<StreamLabels, Counter>::default();
        registry.register_with_unit(
            "peernet_stream",
            "Application bytes read from (direction=read) and written to (direction=written) streams",
            Unit::Bytes,
            stream_bytes.clone(),
        );
        let dials = Family::<DialLabels, Counter>::default();
        registry.register(
            "peernet_dials",
            "Dials of one address by the swarm, by outcome (aborted: no longer needed)",
            dials.clone(),
        );
        let handshake: HistogramFamily<HandshakeLabels> =
            Family::new_with_constructor(handshake_histogram);
        registry.register_with_unit(
            "peernet_handshake_duration",
            "Time a connection's upgrade took (security handshake and muxer; QUIC: its handshake)",
            Unit::Seconds,
            handshake.clone(),
        );
        // 0.1 ms … 13 s.
        let ping_rtt = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        registry.register_with_unit(
            "peernet_ping_rtt",
            "Round-trip times measured by Host::ping",
            Unit::Seconds,
            ping_rtt.clone(),
        );
        let identify = Family::<IdentifyLabels, Counter>::default();
        registry.register(
            "peernet_identify",
            "Identify exchanges: received, failed, sent, push_received, push_refused, push_sent",
            identify.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                conns_opened,
                conns_closed,
                conns,
                streams_opened,
                streams,
                stream_bytes,
                dials,
                handshake,
                ping_rtt,
                identify,
                protocols: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Every metric in the OpenMetrics text format (what Prometheus scrapes; ends in
    /// `# EOF`). Serve it with the content type [`CONTENT_TYPE`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry) {
            // Writing into a String does not fail; an encoder bug is logged, not panicked on.
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        out
    }

    /// Gives `protocol` a `protocol` label of its own (a handler is registered for it), if it
    /// is labelable and the label table has room.
    pub(crate) fn allow_protocol(&self, protocol: &str) {
        if !labelable(protocol) {
            return;
        }
        let mut known = self
            .inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if known.len() < MAX_PROTOCOL_LABELS {
            known.insert(protocol.to_owned());
        }
    }

    /// The `protocol` label of a stream: its id if it has a label (or we opened the stream,
    /// and there is room for one more), else [`OTHER`].
    fn protocol_label(&self, protocol: &str, direction: Direction) -> String {
        let mut known = self
            .inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if known.contains(protocol) {
            return protocol.to_owned();
        }
        if direction == Direction::Outbound
            && labelable(protocol)
            && known.len() < MAX_PROTOCOL_LABELS
        {
            known.insert(protocol.to_owned());
            return protocol.to_owned();
        }
        OTHER.to_owned()
    }

    /// Counts a connection joining the swarm and observes its handshake time.
    pub(crate) fn conn_opened(&self, conn: &ConnFacts<'_>) {
        let transport = transport_label(conn.remote_addr);
        let direction = direction_label(conn.direction);
        self.inner.conns_opened.get_or_create(&conn.labels()).inc();
        self.inner
            .conns
            .get_or_create(&ConnGaugeLabels {
                transport,
                direction,
            })
            .inc();
        self.inner
            .handshake
            .get_or_create(&HandshakeLabels {
                transport,
                security: conn.security,
            })
            .observe(conn.handshake.as_secs_f64());
    }

    /// Counts a connection leaving the swarm (once per connection that joined).
    pub(crate) fn conn_closed(&self, conn: &ConnFacts<'_>) {
        self.inner.conns_closed.get_or_create(&conn.labels()).inc();
        self.inner
            .conns
            .get_or_create(&ConnGaugeLabels {
                transport: transport_label(conn.remote_addr),
                direction: direction_label(conn.direction),
            })
            .dec();
    }

    /// Counts a stream negotiated to `protocol` and resolves its byte counters.
    pub(crate) fn stream_opened(&self, protocol: &str, direction: Direction) -> StreamMetrics {
        let protocol = self.protocol_label(protocol, direction);
        let labels = StreamLabels {
            protocol,
            direction: direction_label(direction),
        };
        self.inner.streams_opened.get_or_create(&labels).inc();
        let open = self.inner.streams.get_or_create_owned(&labels);
        open.inc();
        let bytes = |direction| {
            self.inner.stream_bytes.get_or_create_owned(&StreamLabels {
                protocol: labels.protocol.clone(),
                direction,
            })
        };
        StreamMetrics {
            read: bytes("read"),
            written: bytes("written"),
            open,
        }
    }

    /// A dial of `addr` begins: the returned guard counts it as `aborted` unless
    /// [`DialGuard::done`] reports its outcome first (the planner aborts dials it no longer
    /// needs, dropping their tasks).
    pub(crate) fn dial_started(&self, addr: &Multiaddr) -> DialGuard {
        DialGuard {
            metrics: self.clone(),
            transport: transport_label(addr),
            done: false,
        }
    }

    fn count_dial(&self, transport: &'static str, outcome: &'static str) {
        self.inner
            .dials
            .get_or_create(&DialLabels { transport, outcome })
            .inc();
    }

    /// Observes a ping round trip.
    pub(crate) fn ping_rtt(&self, rtt: Duration) {
        self.inner.ping_rtt.observe(rtt.as_secs_f64());
    }

    /// Counts an identify event.
    pub(crate) fn identify(&self, event: IdentifyEvent) {
        self.inner
            .identify
            .get_or_create(&IdentifyLabels {
                event: event.label(),
            })
            .inc();
    }
}

/// Counts a dial when it ends, or as `aborted` when its task is dropped first.
pub(crate) struct DialGuard {
    metrics: Metrics,
    transport: &'static str,
    done: bool,
}

impl DialGuard {
    /// Counts the dial's outcome: `None` is success.
    pub(crate) fn done(mut self, error: Option<&AddrDialError>) {
        self.done = true;
        let outcome = error.map_or("success", dial_outcome);
        self.metrics.count_dial(self.transport, outcome);
    }
}

impl Drop for DialGuard {
    fn drop(&mut self) {
        if !self.done {
            self.metrics.count_dial(self.transport, "aborted");
        }
    }
}

/// What the metrics record of a connection: its labels and how long its upgrade took. The
/// connection describes itself with one of these, so that the metrics need not know it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnFacts<'a> {
    pub remote_addr: &'a Multiaddr,
    pub direction: Direction,
    pub security: &'static str,
    pub muxer: &'static str,
    pub handshake: std::time::Duration,
}

impl ConnFacts<'_> {
    fn labels(&self) -> ConnLabels {
        ConnLabels {
            transport: transport_label(self.remote_addr),
            direction: direction_label(self.direction),
            security: self.security,
            muxer: self.muxer,
        }
    }
}
