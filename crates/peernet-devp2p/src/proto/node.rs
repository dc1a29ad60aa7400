//! Node identity: secp256k1 keys, 64-byte node ids and `enode://` URLs.

use core::net::{IpAddr, SocketAddr};
use std::fmt;
use std::str::FromStr;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use peernet_core::Fault;

/// Why a node id, public key or enode URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The 64 bytes are not the coordinates of a point on secp256k1 (the fault of whoever gave
    /// them to us; see [`NodeError::fault`]).
    #[error("not a valid secp256k1 public key")]
    InvalidPublicKey,
    /// The URL does not start with `enode://` (the caller's input).
    #[error("enode URL must start with enode://")]
    BadScheme,
    /// The node id part is not 128 hex characters (the caller's input).
    #[error("node id must be 128 hex characters")]
    BadNodeId,
    /// There is no `@ip:port` part, or it does not parse (the caller's input).
    #[error("enode URL needs @ip:port with a literal IP address")]
    BadAddress,
}

impl NodeError {
    /// Whose fault: [`Fault::Local`] for every variant. A `NodeError` reports input handed to
    /// these functions (an enode typed by the user, an id the caller wants to dial); where this
    /// crate checks a key that came from the network, it reports its own remote-fault error
    /// instead (`HandshakeError::InvalidPublicKey`).
    /// A caller that validates remote data with [`NodeId::public_key`] decides for itself.
    pub fn fault(&self) -> Fault {
        match self {
            NodeError::InvalidPublicKey
            | NodeError::BadScheme
            | NodeError::BadNodeId
            | NodeError::BadAddress => Fault::Local,
        }
    }
}

/// A node id: the 64-byte uncompressed secp256k1 public key (x || y) without the 0x04 prefix.
///
/// A `NodeId` is only a container; [`NodeId::public_key`] validates that it is a curve point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 64]);

impl NodeId {
    /// The id of a public key.
    pub fn from_public(pk: &PublicKey) -> NodeId {
        let ep = pk.to_encoded_point(false);
        let mut id = [0u8; 64];
        // An uncompressed SEC1 point is 0x04 || x || y: 65 bytes.
        if let Some(xy) = ep.as_bytes().get(1..65) {
            id.copy_from_slice(xy);
        }
        NodeId(id)
    }

    /// The id of a secret key's public key.
    pub fn from_secret(sk: &SecretKey) -> NodeId {
        NodeId::from_public(&sk.public_key())
    }

    /// The raw 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The public key, checking that the id is a valid point on the curve
    /// (go-ethereum advisory GHSA-m6j8-rg6r-7mv8: never use an unchecked point).
    pub fn public_key(&self) -> Result<PublicKey, NodeError> {
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..].copy_from_slice(&self.0);
        PublicKey::from_sec1_bytes(&sec1).map_err(|_| NodeError::InvalidPublicKey)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(f, "NodeId({}…)", h.get(..16).unwrap_or_default())
    }
}

impl FromStr for NodeId {
    type Err = NodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut id = [0u8; 64];
        hex::decode_to_slice(s, &mut id).map_err(|_| NodeError::BadNodeId)?;
        Ok(NodeId(id))
    }
}

/// A node's identity and TCP address: `enode://<hex node id>@<ip>:<port>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enode {
    /// The node id.
    pub id: NodeId,
    /// The TCP address of the node's RLPx listener.
    pub addr: SocketAddr,
}

impl fmt::Display for Enode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "enode://{}@{}", self.id, self.addr)
    }
}

impl FromStr for Enode {
    type Err = NodeError;

    /// Parses `enode://<128 hex>@<ip>:<port>`, ignoring a `?discport=…` query. The id must be a
    /// valid public key.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("enode://").ok_or(NodeError::BadScheme)?;
        let (id, addr) = rest.split_once('@').ok_or(NodeError::BadAddress)?;
        let id: NodeId = id.parse()?;
        id.public_key()?;
        let addr = addr.split_once('?').map_or(addr, |(a, _)| a);
        let addr: SocketAddr = addr.parse().map_err(|_| NodeError::BadAddress)?;
        Ok(Enode { id, addr })
    }
}

impl Enode {
    /// An enode for `id` at `ip:port`.
    pub fn new(id: NodeId, ip: IpAddr, port: u16) -> Enode {
        Enode {
            id,
            addr: SocketAddr::new(ip, port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_error_is_the_callers_input() {
        for e in [
            NodeError::InvalidPublicKey,
            NodeError::BadScheme,
            NodeError::BadNodeId,
            NodeError::BadAddress,
        ] {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                NodeError::InvalidPublicKey
                | NodeError::BadScheme
                | NodeError::BadNodeId
                | NodeError::BadAddress => Fault::Local,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn enode_round_trip_and_errors() {
        let sk = SecretKey::from_slice(&[7u8; 32]).unwrap();
        let id = NodeId::from_secret(&sk);
        let e = Enode::new(id, "10.0.0.1".parse().unwrap(), 30303);
        let s = e.to_string();
        assert!(s.starts_with("enode://"));
        assert_eq!(s.parse::<Enode>().unwrap(), e);
        assert_eq!(format!("{s}?discport=30301").parse::<Enode>().unwrap(), e);
        let v6 = Enode::new(id, "::1".parse().unwrap(), 1);
        assert_eq!(v6.to_string().parse::<Enode>().unwrap(), v6);
        assert_eq!("http://x".parse::<Enode>(), Err(NodeError::BadScheme));
        assert_eq!(
            "enode://abcd@1.2.3.4:1".parse::<Enode>(),
            Err(NodeError::BadNodeId)
        );
        let bad_point = format!("enode://{}@1.2.3.4:1", "00".repeat(64));
        assert_eq!(bad_point.parse::<Enode>(), Err(NodeError::InvalidPublicKey));
        let no_addr = format!("enode://{id}");
        assert_eq!(no_addr.parse::<Enode>(), Err(NodeError::BadAddress));
        let host = format!("enode://{id}@example.com:1");
        assert_eq!(host.parse::<Enode>(), Err(NodeError::BadAddress));
    }

    #[test]
    fn invalid_points_refused() {
        // x = 1 with a y that is not on the curve.
        let mut b = [0u8; 64];
        b[31] = 1;
        b[63] = 1;
        assert_eq!(NodeId(b).public_key(), Err(NodeError::InvalidPublicKey));
        assert_eq!(
            NodeId([0xff; 64]).public_key(),
            Err(NodeError::InvalidPublicKey)
        );
    }
}
