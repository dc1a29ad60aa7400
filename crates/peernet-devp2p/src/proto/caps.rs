//! Capabilities and their matching (rlpx.md "Message ID-based Multiplexing").
//!
//! Each capability shared by both sides (equal name and version) gets a range of the message
//! code space; when several versions of a name are shared the highest wins. Ranges are assigned
//! from 0x10 upwards in the alphabetical (byte-wise, case-sensitive) order of the names.

use std::fmt;

/// Codes below this belong to the base protocol ("p2p": Hello, Disconnect, Ping, Pong);
/// subprotocols start here. The code space is laid out here, so this module owns the constant.
pub const BASE_PROTOCOL_LENGTH: u64 = 16;

/// A capability: a subprotocol name and version, such as `eth/68`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cap {
    /// The name, a short ASCII string.
    pub name: String,
    /// The version.
    pub version: u32,
}

impl Cap {
    /// A capability.
    pub fn new(name: impl Into<String>, version: u32) -> Cap {
        Cap {
            name: name.into(),
            version,
        }
    }
}

impl fmt::Display for Cap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.version)
    }
}

/// One of our protocols that the remote also speaks, with its place in the code space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedCap {
    /// Index of the protocol in the list we passed to [`match_protocols`].
    pub index: usize,
    /// The capability (name and the version chosen).
    pub cap: Cap,
    /// First message code of the protocol on this connection.
    pub offset: u64,
    /// Number of message codes it uses.
    pub length: u64,
}

/// Matches our protocols (capability and number of message codes) against the remote's
/// capabilities: go-ethereum's `matchProtocols`. The result is sorted by offset.
pub fn match_protocols(ours: &[(Cap, u64)], theirs: &[Cap]) -> Vec<SharedCap> {
    // Highest shared version for each name; the first of duplicate local entries wins.
    let mut best: Vec<(usize, &Cap, u64)> = Vec::new();
    for (i, (cap, len)) in ours.iter().enumerate() {
        if !theirs.contains(cap) {
            continue;
        }
        match best.iter_mut().find(|(_, c, _)| c.name == cap.name) {
            Some(slot) => {
                if cap.version > slot.1.version {
                    *slot = (i, cap, *len);
                }
            }
            None => best.push((i, cap, *len)),
        }
    }
    best.sort_by(|a, b| a.1.name.as_bytes().cmp(b.1.name.as_bytes()));
    let mut offset = BASE_PROTOCOL_LENGTH;
    let mut out = Vec::with_capacity(best.len());
    for (index, cap, length) in best {
        out.push(SharedCap {
            index,
            cap: cap.clone(),
            offset,
            length,
        });
        offset = offset.saturating_add(length);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[(&str, u32)]) -> Vec<Cap> {
        list.iter().map(|(n, v)| Cap::new(*n, *v)).collect()
    }

    #[test]
    fn highest_shared_version_and_offsets() {
        let ours = vec![
            (Cap::new("snap", 1), 8),
            (Cap::new("eth", 66), 17),
            (Cap::new("eth", 68), 17),
            (Cap::new("eth", 67), 17),
            (Cap::new("les", 4), 23),
            (Cap::new("Zed", 1), 2),
        ];
        let theirs = caps(&[
            ("eth", 66),
            ("eth", 67),
            ("snap", 1),
            ("bzz", 1),
            ("Zed", 1),
            ("les", 3),
        ]);
        let m = match_protocols(&ours, &theirs);
        let got: Vec<(String, u64, usize)> = m
            .iter()
            .map(|s| (s.cap.to_string(), s.offset, s.index))
            .collect();
        // "Zed" sorts before lowercase names (byte order); eth/68 is not shared, eth/67 wins;
        // les versions differ: not shared.
        assert_eq!(
            got,
            vec![
                ("Zed/1".to_string(), 16, 5),
                ("eth/67".to_string(), 18, 3),
                ("snap/1".to_string(), 35, 0),
            ]
        );
    }

    #[test]
    fn nothing_shared() {
        let ours = vec![(Cap::new("eth", 68), 17)];
        assert!(match_protocols(&ours, &caps(&[("eth", 67), ("ETH", 68)])).is_empty());
        assert!(match_protocols(&[], &caps(&[("eth", 68)])).is_empty());
    }
}
