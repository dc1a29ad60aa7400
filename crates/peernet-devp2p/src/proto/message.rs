//! The "p2p" base protocol (rlpx.md "p2p Capability"): Hello, Disconnect, Ping, Pong, and the
//! disconnect reasons.

use std::fmt;

use peernet_core::Fault;

use crate::proto::caps::Cap;
use crate::proto::node::NodeId;
use crate::proto::rlp::{self, RlpError};

/// Hello message code.
pub const HELLO_MSG: u64 = 0x00;
/// Disconnect message code.
pub const DISC_MSG: u64 = 0x01;
/// Ping message code.
pub const PING_MSG: u64 = 0x02;
/// Pong message code.
pub const PONG_MSG: u64 = 0x03;
/// The p2p version we speak and announce.
pub const BASE_PROTOCOL_VERSION: u64 = 5;
/// From this p2p version on, messages after Hello are snappy-compressed.
pub const SNAPPY_PROTOCOL_VERSION: u64 = 5;
/// Most capabilities accepted in a Hello (real clients send a handful).
pub const MAX_CAPS: usize = 1024;
/// Largest Hello payload accepted: go-ethereum refuses base-protocol messages over 2 KiB in
/// the protocol handshake, so no deployed client sends more.
pub const MAX_HELLO_SIZE: usize = 2 * 1024;
/// RLP of an empty list: the payload of Ping and Pong.
pub const EMPTY_LIST: [u8; 1] = [0xc0];

/// Why a base-protocol message could not be decoded. All variants are the remote's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The payload is not the RLP structure the message needs (the remote's fault).
    #[error("malformed base-protocol message")]
    Rlp(#[from] RlpError),
    /// The Hello lists more than [`MAX_CAPS`] capabilities (the remote's fault).
    #[error("hello lists too many capabilities")]
    TooManyCaps,
    /// The Hello is larger than [`MAX_HELLO_SIZE`] (the remote's fault).
    #[error("hello of {0} bytes is too large")]
    HelloTooLarge(usize),
}

impl MessageError {
    /// Whose fault: always [`Fault::Remote`]. The size and count limits are not ours to lift:
    /// go-ethereum refuses the same, so no honest client exceeds them and a peer that does is
    /// hostile, not short of our capacity.
    pub fn fault(&self) -> Fault {
        match self {
            MessageError::Rlp(_) | MessageError::TooManyCaps | MessageError::HelloTooLarge(_) => {
                Fault::Remote
            }
        }
    }
}

/// Why a connection ends: the reason codes of the Disconnect message, with go-ethereum's
/// names and texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscReason {
    /// 0x00: disconnect requested.
    Requested,
    /// 0x01: TCP sub-system error.
    NetworkError,
    /// 0x02: breach of protocol (malformed message, bad RLP, …).
    ProtocolError,
    /// 0x03: useless peer (no shared capability).
    UselessPeer,
    /// 0x04: too many peers.
    TooManyPeers,
    /// 0x05: already connected.
    AlreadyConnected,
    /// 0x06: incompatible p2p protocol version.
    IncompatibleVersion,
    /// 0x07: null or malformed node identity.
    InvalidIdentity,
    /// 0x08: client quitting.
    ClientQuit,
    /// 0x09: unexpected identity in handshake.
    UnexpectedIdentity,
    /// 0x0a: connected to itself.
    SelfConnect,
    /// 0x0b: ping / read timeout.
    ReadTimeout,
    /// 0x10: some other reason specific to a subprotocol.
    SubprotocolError,
    /// A code this implementation does not know.
    Unknown(u64),
}

impl DiscReason {
    /// The wire code.
    pub fn code(self) -> u64 {
        match self {
            DiscReason::Requested => 0x00,
            DiscReason::NetworkError => 0x01,
            DiscReason::ProtocolError => 0x02,
            DiscReason::UselessPeer => 0x03,
            DiscReason::TooManyPeers => 0x04,
            DiscReason::AlreadyConnected => 0x05,
            DiscReason::IncompatibleVersion => 0x06,
            DiscReason::InvalidIdentity => 0x07,
            DiscReason::ClientQuit => 0x08,
            DiscReason::UnexpectedIdentity => 0x09,
            DiscReason::SelfConnect => 0x0a,
            DiscReason::ReadTimeout => 0x0b,
            DiscReason::SubprotocolError => 0x10,
            DiscReason::Unknown(c) => c,
        }
    }

    /// The reason for a wire code.
    pub fn from_code(code: u64) -> DiscReason {
        match code {
            0x00 => DiscReason::Requested,
            0x01 => DiscReason::NetworkError,
            0x02 => DiscReason::ProtocolError,
            0x03 => DiscReason::UselessPeer,
            0x04 => DiscReason::TooManyPeers,
            0x05 => DiscReason::AlreadyConnected,
            0x06 => DiscReason::IncompatibleVersion,
            0x07 => DiscReason::InvalidIdentity,
            0x08 => DiscReason::ClientQuit,
            0x09 => DiscReason::UnexpectedIdentity,
            0x0a => DiscReason::SelfConnect,
            0x0b => DiscReason::ReadTimeout,
            0x10 => DiscReason::SubprotocolError,
            c => DiscReason::Unknown(c),
        }
    }

    /// All the reasons the spec defines, in code order.
    pub const ALL: [DiscReason; 13] = [
        DiscReason::Requested,
        DiscReason::NetworkError,
        DiscReason::ProtocolError,
        DiscReason::UselessPeer,
        DiscReason::TooManyPeers,
        DiscReason::AlreadyConnected,
        DiscReason::IncompatibleVersion,
        DiscReason::InvalidIdentity,
        DiscReason::ClientQuit,
        DiscReason::UnexpectedIdentity,
        DiscReason::SelfConnect,
        DiscReason::ReadTimeout,
        DiscReason::SubprotocolError,
    ];
}

impl DiscReason {
    /// Whose fault it is when *we* end a connection with this reason: it is what
    /// [`check_hello`], the server's checks and a protocol's `RunError::Disconnect` return as
    /// an error. A reason the remote sent
    /// is always the remote's decision: the errors that carry one received (the setup error's
    /// `Disconnected`) answer [`Fault::Remote`] without asking this.
    ///
    /// Ours to decide: a peer that speaks no protocol of ours ([`DiscReason::UselessPeer`]) is
    /// [`Fault::Remote`] (nothing to retry, nothing to fix here); a second connection to a
    /// connected node ([`DiscReason::AlreadyConnected`]) is [`Fault::Limit`], like too many
    /// peers: one connection per node is our cap; a subprotocol's verdict
    /// ([`DiscReason::SubprotocolError`]) is [`Fault::Remote`].
    pub fn fault(self) -> Fault {
        match self {
            DiscReason::Requested | DiscReason::ClientQuit | DiscReason::SelfConnect => {
                Fault::Local
            }
            DiscReason::NetworkError => Fault::Io,
            DiscReason::TooManyPeers | DiscReason::AlreadyConnected => Fault::Limit,
            DiscReason::ProtocolError
            | DiscReason::UselessPeer
            | DiscReason::IncompatibleVersion
            | DiscReason::InvalidIdentity
            | DiscReason::UnexpectedIdentity
            | DiscReason::ReadTimeout
            | DiscReason::SubprotocolError
            | DiscReason::Unknown(_) => Fault::Remote,
        }
    }
}

impl fmt::Display for DiscReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            DiscReason::Requested => "disconnect requested",
            DiscReason::NetworkError => "network error",
            DiscReason::ProtocolError => "breach of protocol",
            DiscReason::UselessPeer => "useless peer",
            DiscReason::TooManyPeers => "too many peers",
            DiscReason::AlreadyConnected => "already connected",
            DiscReason::IncompatibleVersion => "incompatible p2p protocol version",
            DiscReason::InvalidIdentity => "invalid node identity",
            DiscReason::ClientQuit => "client quitting",
            DiscReason::UnexpectedIdentity => "unexpected identity",
            DiscReason::SelfConnect => "connected to self",
            DiscReason::ReadTimeout => "read timeout",
            DiscReason::SubprotocolError => "subprotocol error",
            DiscReason::Unknown(c) => return write!(f, "unknown disconnect reason {c}"),
        };
        f.write_str(s)
    }
}

impl std::error::Error for DiscReason {}

/// The Disconnect payload: `[reason]`.
pub fn encode_disconnect(reason: DiscReason) -> Vec<u8> {
    let mut payload = Vec::new();
    rlp::encode_u64(reason.code(), &mut payload);
    let mut out = Vec::new();
    rlp::encode_list(&payload, &mut out);
    out
}

/// Decodes a Disconnect payload. Accepts `[reason, ...]`, a bare `reason` (sent by some older
/// clients) and `[]` (the reason is optional: "disconnect requested").
pub fn decode_disconnect(payload: &[u8]) -> Result<DiscReason, MessageError> {
    let (item, _) = rlp::decode_prefix(payload)?;
    let code = match item {
        rlp::Item::List(_) => match item.list()?.next() {
            None => 0,
            Some(first) => first?.as_u64()?,
        },
        rlp::Item::Bytes(_) => item.as_u64()?,
    };
    Ok(DiscReason::from_code(code))
}

/// The Hello message: `[protocolVersion, clientId, [[cap, version], ...], listenPort, nodeId, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The p2p version ([`BASE_PROTOCOL_VERSION`] from us).
    pub protocol_version: u64,
    /// Human-readable client software name.
    pub client_id: String,
    /// Capabilities (subprotocols) offered.
    pub caps: Vec<Cap>,
    /// Legacy listening port (0 if not listening); ignored.
    pub listen_port: u64,
    /// The node id, as sent: normally 64 bytes (checked by [`check_hello`]).
    pub id: Vec<u8>,
}

impl Hello {
    /// The RLP payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut caps = Vec::new();
        for c in &self.caps {
            let mut p = Vec::new();
            rlp::encode_bytes(c.name.as_bytes(), &mut p);
            rlp::encode_u64(u64::from(c.version), &mut p);
            rlp::encode_list(&p, &mut caps);
        }
        let mut p = Vec::new();
        rlp::encode_u64(self.protocol_version, &mut p);
        rlp::encode_bytes(self.client_id.as_bytes(), &mut p);
        rlp::encode_list(&caps, &mut p);
        rlp::encode_u64(self.listen_port, &mut p);
        rlp::encode_bytes(&self.id, &mut p);
        let mut out = Vec::new();
        rlp::encode_list(&p, &mut out);
        out
    }

    /// Decodes a Hello payload, ignoring additional list elements (EIP-8) in the message and
    /// in each capability, and any bytes after the list.
    pub fn decode(payload: &[u8]) -> Result<Hello, MessageError> {
        if payload.len() > MAX_HELLO_SIZE {
            return Err(MessageError::HelloTooLarge(payload.len()));
        }
        let (item, _) = rlp::decode_prefix(payload)?;
        let mut l = item.list()?;
        let protocol_version = l.required()?.as_u64()?;
        let client_id = String::from_utf8_lossy(l.required()?.bytes()?).into_owned();
        let mut caps = Vec::new();
        for c in l.required()?.list()? {
            if caps.len() >= MAX_CAPS {
                return Err(MessageError::TooManyCaps);
            }
            let mut c = c?.list()?;
            let name = String::from_utf8_lossy(c.required()?.bytes()?).into_owned();
            let version = c.required()?.as_u64()?;
            let version = u32::try_from(version).map_err(|_| RlpError::IntegerOverflow)?;
            caps.push(Cap { name, version });
        }
        let listen_port = l.required()?.as_u64()?;
        let id = l.required()?.bytes()?.to_vec();
        Ok(Hello {
            protocol_version,
            client_id,
            caps,
            listen_port,
            id,
        })
    }
}

/// Checks a received Hello against the identity the encryption handshake established
/// (`expected`): the reason to disconnect with if it is unacceptable.
///
/// Versions at or above `min_version` are accepted, higher ones too (EIP-8: never refuse a newer
/// peer).
pub fn check_hello(hello: &Hello, expected: &NodeId, min_version: u64) -> Result<(), DiscReason> {
    if hello.protocol_version < min_version {
        return Err(DiscReason::IncompatibleVersion);
    }
    if hello.id.len() != 64 || hello.id.iter().all(|&b| b == 0) {
        return Err(DiscReason::InvalidIdentity);
    }
    if hello.id.as_slice() != expected.as_bytes() {
        return Err(DiscReason::UnexpectedIdentity);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_error_is_the_remotes_fault() {
        for e in [
            MessageError::Rlp(RlpError::Truncated),
            MessageError::TooManyCaps,
            MessageError::HelloTooLarge(MAX_HELLO_SIZE + 1),
        ] {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                MessageError::Rlp(_)
                | MessageError::TooManyCaps
                | MessageError::HelloTooLarge(_) => Fault::Remote,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
        use std::error::Error as _;
        let e = MessageError::Rlp(RlpError::Truncated);
        assert_eq!(e.to_string(), "malformed base-protocol message");
        assert_eq!(
            e.source().map(|s| s.to_string()),
            Some("rlp: input too short".into())
        );
    }

    #[test]
    fn every_disconnect_reason_has_a_fault() {
        let all = DiscReason::ALL
            .into_iter()
            .chain([DiscReason::Unknown(0x42)]);
        for r in all {
            // Exhaustive: a new reason does not compile until its fault is decided here.
            let want = match r {
                DiscReason::Requested | DiscReason::ClientQuit | DiscReason::SelfConnect => {
                    Fault::Local
                }
                DiscReason::NetworkError => Fault::Io,
                DiscReason::TooManyPeers | DiscReason::AlreadyConnected => Fault::Limit,
                DiscReason::ProtocolError
                | DiscReason::UselessPeer
                | DiscReason::IncompatibleVersion
                | DiscReason::InvalidIdentity
                | DiscReason::UnexpectedIdentity
                | DiscReason::ReadTimeout
                | DiscReason::SubprotocolError
                | DiscReason::Unknown(_) => Fault::Remote,
            };
            assert_eq!(r.fault(), want, "{r:?}");
        }
    }

    #[test]
    fn eip8_hello_vector() {
        // EIP-8 "devp2p hello packet ... containing a few additional list elements".
        let v = hex::decode(concat!(
            "f87137916b6e6574682f76302e39312f706c616e39cdc5836574683dc6846d6f726b1682270fb840",
            "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569",
            "bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877c883666f6f836261720304"
        ))
        .unwrap();
        let h = Hello::decode(&v).unwrap();
        assert_eq!(h.protocol_version, 55);
        assert_eq!(h.client_id, "kneth/v0.91/plan9");
        assert_eq!(h.caps, vec![Cap::new("eth", 61), Cap::new("mork", 22)]);
        assert_eq!(h.listen_port, 9999);
        assert_eq!(h.id.len(), 64);
        assert_eq!(h.id[0], 0xfd);
    }

    #[test]
    fn hello_round_trip_and_checks() {
        let id = NodeId([9u8; 64]);
        let h = Hello {
            protocol_version: 5,
            client_id: "peernet".into(),
            caps: vec![Cap::new("eth", 68), Cap::new("snap", 1)],
            listen_port: 30303,
            id: id.0.to_vec(),
        };
        let enc = h.encode();
        assert_eq!(Hello::decode(&enc).unwrap(), h);
        assert_eq!(check_hello(&h, &id, 4), Ok(()));
        assert_eq!(
            check_hello(&h, &NodeId([8; 64]), 4),
            Err(DiscReason::UnexpectedIdentity)
        );
        let mut zero = h.clone();
        zero.id = vec![0; 64];
        assert_eq!(check_hello(&zero, &id, 4), Err(DiscReason::InvalidIdentity));
        let mut short = h.clone();
        short.id = vec![1; 63];
        assert_eq!(
            check_hello(&short, &id, 4),
            Err(DiscReason::InvalidIdentity)
        );
        let mut old = h.clone();
        old.protocol_version = 3;
        assert_eq!(
            check_hello(&old, &id, 4),
            Err(DiscReason::IncompatibleVersion)
        );
        let mut huge = h.clone();
        huge.client_id = "x".repeat(MAX_HELLO_SIZE);
        assert!(matches!(
            Hello::decode(&huge.encode()),
            Err(MessageError::HelloTooLarge(_))
        ));
        // Truncated Hello.
        assert!(Hello::decode(&enc[..enc.len() - 3]).is_err());
        assert!(Hello::decode(&[0xc2, 0x05, 0x80]).is_err());
    }

    #[test]
    fn disconnect_forms() {
        for r in DiscReason::ALL {
            assert_eq!(decode_disconnect(&encode_disconnect(r)).unwrap(), r);
            assert_eq!(DiscReason::from_code(r.code()), r);
        }
        assert_eq!(
            decode_disconnect(&[0x04]).unwrap(),
            DiscReason::TooManyPeers
        );
        assert_eq!(decode_disconnect(&[0xc0]).unwrap(), DiscReason::Requested);
        assert_eq!(
            decode_disconnect(&[0xc1, 0x0c]).unwrap(),
            DiscReason::Unknown(12)
        );
        assert!(decode_disconnect(&[]).is_err());
        assert_eq!(DiscReason::ClientQuit.to_string(), "client quitting");
        assert_eq!(DiscReason::UselessPeer.to_string(), "useless peer");
    }
}
