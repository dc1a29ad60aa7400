//! multistream-select 1.0 (multiformats/multistream-select): agreeing on a protocol for a
//! connection or a stream.
//!
//! Every message is a varint length prefix, then the token, then `\n` (counted in the length):
//!
//! ```text
//! dialer                                   listener
//!   /multistream/1.0.0\n  /noise\n   ──▶
//!                                    ◀──   /multistream/1.0.0\n  /noise\n     (accepted)
//!                                    ◀──   na\n                              (or: not available)
//! ```
//!
//! The dialer sends the header and its first proposal together, without waiting for the
//! listener's header. [`Dialer::optimistic`] goes further for a single protocol: the dialer may
//! write application data right after its proposal and reads the listener's confirmation later,
//! saving a round trip. If the listener then answers `na`, the confirmation fails with
//! [`NegotiationError::Refused`].
//!
//! Both machines are pure: bytes in with `handle_input`, bytes out with `poll_transmit`.
//! `handle_input` consumes whole messages only and stops at the end of the negotiation, so bytes
//! that follow (application data sent optimistically) stay with the caller.

use crate::varint::{self, FrameError};

/// The protocol id of multistream-select itself, sent as the header by both sides.
pub const PROTOCOL_ID: &str = "/multistream/1.0.0";

/// Longest protocol id accepted in a proposal (bytes, without the newline). go-libp2p and
/// rust-libp2p use short ids; 1 KiB leaves room for long ones and bounds our buffers.
pub const MAX_PROTOCOL_LEN: usize = 1024;

/// Longest single message accepted, which also bounds an `ls` answer.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// How many `na` answers or rejected proposals a side tolerates before giving up: a listener
/// faced with a dialer that proposes forever, or a dialer with a very long list.
pub const MAX_PROPOSALS: usize = 64;

/// One multistream-select message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `/multistream/1.0.0`: the header.
    Header,
    /// A protocol id: a proposal from the dialer, or the listener's acceptance of it.
    Protocol(String),
    /// `na`: the proposal is not available.
    NotAvailable,
    /// `ls`: asks the listener for its protocols.
    ListProtocols,
    /// The answer to `ls`: the listener's protocols.
    Protocols(Vec<String>),
}

/// Why negotiation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The remote sent bytes that are not a multistream-select message (the remote's fault).
    #[error("remote sent a malformed multistream-select message: {0}")]
    Malformed(&'static str),
    /// A length prefix that is invalid or longer than [`MAX_MESSAGE_LEN`] (the remote's fault).
    #[error("remote sent a bad length prefix")]
    Framing(#[source] FrameError),
    /// The remote sent a valid message that makes no sense at this point (the remote's fault).
    #[error("remote sent {0} at the wrong time")]
    Unexpected(&'static str),
    /// The remote speaks another version of multistream-select (the remote's fault, or an
    /// incompatible peer).
    #[error("remote sent header {0:?}, expected /multistream/1.0.0")]
    WrongHeader(String),
    /// The remote supports none of the protocols we proposed.
    #[error("remote supports none of the proposed protocols {0:?}")]
    Refused(Vec<String>),
    /// The remote made more than [`MAX_PROPOSALS`] proposals (the remote's fault).
    #[error("remote made too many proposals")]
    TooManyProposals,
    /// We were asked to propose a protocol id that is empty, too long, or not of the form
    /// `/…` (local misuse).
    #[error("invalid protocol id {0:?}: must start with '/' and be at most 1024 bytes")]
    InvalidProtocol(String),
    /// We were asked to negotiate with an empty list of protocols (local misuse).
    #[error("no protocols to propose")]
    NoProtocols,
}

impl NegotiationError {
    /// Who was at fault: the remote for everything it sent or refused, us for a bad proposal
    /// list.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            NegotiationError::Malformed(_)
            | NegotiationError::Framing(_)
            | NegotiationError::Unexpected(_)
            | NegotiationError::WrongHeader(_)
            | NegotiationError::Refused(_)
            | NegotiationError::TooManyProposals => Fault::Remote,
            NegotiationError::InvalidProtocol(_) | NegotiationError::NoProtocols => Fault::Local,
        }
    }
}

impl Message {
    /// Appends the wire form of the message to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn line(token: &[u8], out: &mut Vec<u8>) {
            varint::encode(token.len() as u64 + 1, out);
            out.extend_from_slice(token);
            out.push(b'\n');
        }
        match self {
            Message::Header => line(PROTOCOL_ID.as_bytes(), out),
            Message::Protocol(p) => line(p.as_bytes(), out),
            Message::NotAvailable => line(b"na", out),
            Message::ListProtocols => line(b"ls", out),
            Message::Protocols(list) => {
                // One message whose body is the protocols, each itself length-prefixed and
                // newline-terminated, followed by a final newline (as go-multistream writes it).
                let mut body = Vec::new();
                for p in list {
                    line(p.as_bytes(), &mut body);
                }
                line(&body, out);
            }
        }
    }

    /// Decodes one message from the start of `input`.
    ///
    /// Returns `Ok(None)` if more bytes are needed, or the message and the bytes it took.
    /// `ls_answer` says whether a list of protocols is expected here: the answer to `ls` cannot
    /// be told apart from a protocol id by its bytes alone.
    pub fn decode(
        input: &[u8],
        ls_answer: bool,
    ) -> Result<Option<(Message, usize)>, NegotiationError> {
        let Some((body, consumed)) =
            varint::take_frame(input, MAX_MESSAGE_LEN).map_err(NegotiationError::Framing)?
        else {
            return Ok(None);
        };
        let Some(token) = body.strip_suffix(b"\n") else {
            return Err(NegotiationError::Malformed(
                "message does not end with a newline",
            ));
        };
        let message = if ls_answer {
            Message::Protocols(decode_list(token)?)
        } else {
            match token {
                b"na" => Message::NotAvailable,
                b"ls" => Message::ListProtocols,
                _ if token == PROTOCOL_ID.as_bytes() => Message::Header,
                _ => Message::Protocol(parse_protocol(token)?),
            }
        };
        Ok(Some((message, consumed)))
    }
}

fn decode_list(mut body: &[u8]) -> Result<Vec<String>, NegotiationError> {
    let mut list = Vec::new();
    while !body.is_empty() {
        let Some((line, consumed)) =
            varint::take_frame(body, MAX_PROTOCOL_LEN + 1).map_err(NegotiationError::Framing)?
        else {
            return Err(NegotiationError::Malformed("truncated protocol list"));
        };
        let token = line
            .strip_suffix(b"\n")
            .ok_or(NegotiationError::Malformed("list entry without newline"))?;
        list.push(parse_protocol(token)?);
        body = body.get(consumed..).unwrap_or_default();
    }
    Ok(list)
}

fn parse_protocol(token: &[u8]) -> Result<String, NegotiationError> {
    if token.len() > MAX_PROTOCOL_LEN {
        return Err(NegotiationError::Malformed("protocol id too long"));
    }
    if token.first() != Some(&b'/') {
        // Another header version (e.g. /multistream/2.0.0 would still start with '/') or junk.
        return Err(NegotiationError::Malformed(
            "protocol id does not start with '/'",
        ));
    }
    if token.contains(&b'\n') {
        return Err(NegotiationError::Malformed(
            "protocol id contains a newline",
        ));
    }
    String::from_utf8(token.to_vec())
        .map_err(|_| NegotiationError::Malformed("protocol id is not UTF-8"))
}

fn check_protocol(p: &str) -> Result<(), NegotiationError> {
    if p.len() > MAX_PROTOCOL_LEN || !p.starts_with('/') || p.contains('\n') {
        return Err(NegotiationError::InvalidProtocol(p.to_owned()));
    }
    Ok(())
}

/// Where the dialer is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DialerState {
    /// Waiting for the listener's header.
    AwaitHeader,
    /// Waiting for the listener to accept or refuse `protocols[next - 1]`.
    AwaitAnswer,
    /// Agreed on `protocols[next - 1]`.
    Done,
    /// Failed; the error was returned.
    Failed,
}

/// The dialer side: proposes protocols in order until the listener accepts one.
#[derive(Debug)]
pub struct Dialer {
    protocols: Vec<String>,
    /// Index of the next protocol to propose; the one under consideration is `next - 1`.
    next: usize,
    state: DialerState,
    /// The single proposal may be used before the listener confirms it.
    optimistic: bool,
    out: Vec<u8>,
}

impl Dialer {
    /// A dialer that proposes `protocols` in order, waiting for each answer.
    ///
    /// The header and the first proposal are queued together.
    pub fn new<I, S>(protocols: I) -> Result<Self, NegotiationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let protocols: Vec<String> = protocols.into_iter().map(Into::into).collect();
        if protocols.is_empty() {
            return Err(NegotiationError::NoProtocols);
        }
        for p in &protocols {
            check_protocol(p)?;
        }
        let mut dialer = Dialer {
            protocols,
            next: 0,
            state: DialerState::AwaitHeader,
            optimistic: false,
            out: Vec::with_capacity(64),
        };
        Message::Header.encode(&mut dialer.out);
        dialer.propose_next();
        Ok(dialer)
    }

    /// A dialer for a single protocol that does not wait for the answer: once the proposal is
    /// transmitted the caller may send application data, and must feed what it reads through
    /// [`Dialer::handle_input`] until [`Dialer::is_confirmed`] before reading application data.
    pub fn optimistic(protocol: impl Into<String>) -> Result<Self, NegotiationError> {
        let mut dialer = Dialer::new([protocol])?;
        dialer.optimistic = true;
        Ok(dialer)
    }

    fn propose_next(&mut self) {
        if let Some(p) = self.protocols.get(self.next) {
            Message::Protocol(p.clone()).encode(&mut self.out);
            self.next += 1;
        }
    }

    /// Moves queued output into `buf` (appending). Call after construction and after every
    /// [`Dialer::handle_input`].
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// Whether there is output waiting for [`Dialer::poll_transmit`].
    #[must_use]
    pub fn wants_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// Feeds bytes read from the remote. Returns how many were consumed: whole messages only,
    /// and nothing past the end of the negotiation.
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, NegotiationError> {
        let mut consumed = 0;
        while !matches!(self.state, DialerState::Done | DialerState::Failed) {
            let rest = input.get(consumed..).unwrap_or_default();
            let Some((message, n)) = Message::decode(rest, false).inspect_err(|_| {
                self.state = DialerState::Failed;
            })?
            else {
                break;
            };
            consumed += n;
            if let Err(e) = self.on_message(message) {
                self.state = DialerState::Failed;
                return Err(e);
            }
        }
        Ok(consumed)
    }

    fn on_message(&mut self, message: Message) -> Result<(), NegotiationError> {
        match (&self.state, message) {
            (DialerState::AwaitHeader, Message::Header) => {
                self.state = DialerState::AwaitAnswer;
                Ok(())
            }
            (DialerState::AwaitHeader, Message::Protocol(p)) => {
                Err(NegotiationError::WrongHeader(p))
            }
            (DialerState::AwaitHeader, _) => {
                Err(NegotiationError::Unexpected("a message before the header"))
            }
            (DialerState::AwaitAnswer, Message::Protocol(p)) => {
                if Some(&p) == self.current() {
                    self.state = DialerState::Done;
                    Ok(())
                } else {
                    Err(NegotiationError::Unexpected(
                        "an answer naming another protocol",
                    ))
                }
            }
            (DialerState::AwaitAnswer, Message::NotAvailable) => {
                if self.next < self.protocols.len() && self.next < MAX_PROPOSALS {
                    self.propose_next();
                    Ok(())
                } else {
                    Err(NegotiationError::Refused(self.protocols.clone()))
                }
            }
            (DialerState::AwaitAnswer, _) => Err(NegotiationError::Unexpected(
                "a message other than an answer",
            )),
            (DialerState::Done | DialerState::Failed, _) => {
                Err(NegotiationError::Unexpected("a message after negotiation"))
            }
        }
    }

    fn current(&self) -> Option<&String> {
        self.next.checked_sub(1).and_then(|i| self.protocols.get(i))
    }

    /// The agreed protocol: once the listener confirmed it, or, for an optimistic dialer, as
    /// soon as it was proposed.
    pub fn selected(&self) -> Option<&str> {
        match self.state {
            DialerState::Done => self.current().map(String::as_str),
            DialerState::AwaitHeader | DialerState::AwaitAnswer if self.optimistic => {
                self.current().map(String::as_str)
            }
            _ => None,
        }
    }

    /// Whether the listener has confirmed the protocol.
    pub fn is_confirmed(&self) -> bool {
        self.state == DialerState::Done
    }
}

/// Where the listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListenerState {
    AwaitHeader,
    AwaitProposal,
    Done,
    Failed,
}

/// The listener side: answers the dialer's header and accepts the first supported proposal.
#[derive(Debug)]
pub struct Listener {
    state: ListenerState,
    selected: Option<String>,
    proposals: usize,
    out: Vec<u8>,
}

impl Default for Listener {
    fn default() -> Self {
        Self::new()
    }
}

impl Listener {
    /// A listener waiting for the dialer's header.
    pub fn new() -> Self {
        Listener {
            state: ListenerState::AwaitHeader,
            selected: None,
            proposals: 0,
            out: Vec::with_capacity(64),
        }
    }

    /// Feeds bytes read from the dialer. `supported` decides whether a proposal is accepted;
    /// `list` answers an `ls` request. Returns how many bytes were consumed: whole messages
    /// only, and nothing after the accepted proposal.
    pub fn handle_input(
        &mut self,
        input: &[u8],
        supported: &mut dyn FnMut(&str) -> bool,
        list: &dyn Fn() -> Vec<String>,
    ) -> Result<usize, NegotiationError> {
        let mut consumed = 0;
        while matches!(
            self.state,
            ListenerState::AwaitHeader | ListenerState::AwaitProposal
        ) {
            let rest = input.get(consumed..).unwrap_or_default();
            let decoded = Message::decode(rest, false);
            let Some((message, n)) = decoded.inspect_err(|_| self.state = ListenerState::Failed)?
            else {
                break;
            };
            consumed += n;
            if let Err(e) = self.on_message(message, supported, list) {
                self.state = ListenerState::Failed;
                return Err(e);
            }
        }
        Ok(consumed)
    }

    fn on_message(
        &mut self,
        message: Message,
        supported: &mut dyn FnMut(&str) -> bool,
        list: &dyn Fn() -> Vec<String>,
    ) -> Result<(), NegotiationError> {
        match (self.state, message) {
            (ListenerState::AwaitHeader, Message::Header) => {
                Message::Header.encode(&mut self.out);
                self.state = ListenerState::AwaitProposal;
            }
            (ListenerState::AwaitHeader, Message::Protocol(p)) => {
                return Err(NegotiationError::WrongHeader(p))
            }
            (ListenerState::AwaitHeader, _) => {
                return Err(NegotiationError::Unexpected("a message before the header"))
            }
            (ListenerState::AwaitProposal, Message::Protocol(p)) => {
                self.proposals += 1;
                if supported(&p) {
                    Message::Protocol(p.clone()).encode(&mut self.out);
                    self.selected = Some(p);
                    self.state = ListenerState::Done;
                } else if self.proposals >= MAX_PROPOSALS {
                    return Err(NegotiationError::TooManyProposals);
                } else {
                    Message::NotAvailable.encode(&mut self.out);
                }
            }
            (ListenerState::AwaitProposal, Message::ListProtocols) => {
                self.proposals += 1;
                if self.proposals >= MAX_PROPOSALS {
                    return Err(NegotiationError::TooManyProposals);
                }
                Message::Protocols(list()).encode(&mut self.out);
            }
            (ListenerState::AwaitProposal, Message::Header) => {
                return Err(NegotiationError::Unexpected("a second header"))
            }
            (ListenerState::AwaitProposal, _) => {
                return Err(NegotiationError::Unexpected(
                    "a message other than a proposal",
                ))
            }
            (ListenerState::Done | ListenerState::Failed, _) => {
                return Err(NegotiationError::Unexpected("a message after negotiation"))
            }
        }
        Ok(())
    }

    /// Moves queued output into `buf` (appending). Call after every [`Listener::handle_input`].
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        buf.append(&mut self.out);
    }

    /// Whether there is output waiting for [`Listener::poll_transmit`].
    #[must_use]
    pub fn wants_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// The accepted protocol, once negotiation is done.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes_of(m: &Message) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode(&mut out);
        out
    }

    #[test]
    fn spec_vectors() {
        // From the multistream-select README: na and ls with their varint prefix of 3.
        assert_eq!(bytes_of(&Message::NotAvailable), [0x03, b'n', b'a', b'\n']);
        assert_eq!(bytes_of(&Message::ListProtocols), [0x03, b'l', b's', b'\n']);
        assert_eq!(bytes_of(&Message::Header), b"\x13/multistream/1.0.0\n");
        assert_eq!(
            bytes_of(&Message::Protocol("/noise".into())),
            b"\x07/noise\n"
        );
        // An ls answer: the outer message carries length-prefixed lines and a final newline.
        assert_eq!(
            bytes_of(&Message::Protocols(vec!["/a".into(), "/bc".into()])),
            b"\x0a\x03/a\n\x04/bc\n\n"
        );
    }

    /// Runs a dialer and a listener against each other until both are quiet.
    fn run(
        mut dialer: Dialer,
        supported: &[&str],
    ) -> (Dialer, Listener, Result<(), NegotiationError>) {
        let mut listener = Listener::new();
        let mut to_listener = Vec::new();
        let mut to_dialer = Vec::new();
        dialer.poll_transmit(&mut to_listener);
        for _ in 0..100 {
            let n =
                match listener.handle_input(&to_listener, &mut |p| supported.contains(&p), &|| {
                    supported.iter().map(|s| s.to_string()).collect()
                }) {
                    Ok(n) => n,
                    Err(e) => return (dialer, listener, Err(e)),
                };
            to_listener.drain(..n);
            listener.poll_transmit(&mut to_dialer);
            let n = match dialer.handle_input(&to_dialer) {
                Ok(n) => n,
                Err(e) => return (dialer, listener, Err(e)),
            };
            to_dialer.drain(..n);
            dialer.poll_transmit(&mut to_listener);
            if to_listener.is_empty() && to_dialer.is_empty() {
                break;
            }
        }
        (dialer, listener, Ok(()))
    }

    #[test]
    fn first_protocol_accepted_in_one_round_trip() {
        let mut dialer = Dialer::new(["/noise", "/tls/1.0.0"]).unwrap();
        let mut first = Vec::new();
        dialer.poll_transmit(&mut first);
        // Header and proposal leave together.
        assert_eq!(first, b"\x13/multistream/1.0.0\n\x07/noise\n");
        let (dialer, listener, result) =
            run(Dialer::new(["/noise", "/tls/1.0.0"]).unwrap(), &["/noise"]);
        result.unwrap();
        assert_eq!(dialer.selected(), Some("/noise"));
        assert!(dialer.is_confirmed());
        assert_eq!(listener.selected(), Some("/noise"));
    }

    #[test]
    fn falls_back_after_na() {
        let (dialer, listener, result) = run(
            Dialer::new(["/noise", "/tls/1.0.0"]).unwrap(),
            &["/tls/1.0.0"],
        );
        result.unwrap();
        assert_eq!(dialer.selected(), Some("/tls/1.0.0"));
        assert_eq!(listener.selected(), Some("/tls/1.0.0"));
    }

    #[test]
    fn refused_when_nothing_matches() {
        let (dialer, _, result) = run(Dialer::new(["/a", "/b"]).unwrap(), &["/c"]);
        assert_eq!(
            result,
            Err(NegotiationError::Refused(vec!["/a".into(), "/b".into()]))
        );
        assert_eq!(dialer.selected(), None);
    }

    #[test]
    fn optimistic_dialer_selects_before_confirmation_and_fails_on_na() {
        let dialer = Dialer::optimistic("/echo/1.0.0").unwrap();
        assert_eq!(dialer.selected(), Some("/echo/1.0.0"));
        assert!(!dialer.is_confirmed());
        let (dialer, _, result) = run(dialer, &["/echo/1.0.0"]);
        result.unwrap();
        assert!(dialer.is_confirmed());

        let (_, _, result) = run(Dialer::optimistic("/echo/1.0.0").unwrap(), &["/other"]);
        assert!(matches!(result, Err(NegotiationError::Refused(_))));
    }

    #[test]
    fn trailing_application_data_is_not_consumed() {
        let mut listener = Listener::new();
        let mut input = b"\x13/multistream/1.0.0\n\x07/noise\n".to_vec();
        input.extend_from_slice(b"APPDATA");
        let n = listener
            .handle_input(&input, &mut |_| true, &Vec::new)
            .unwrap();
        assert_eq!(&input[n..], b"APPDATA");
        let mut dialer = Dialer::optimistic("/noise").unwrap();
        let mut reply = Vec::new();
        listener.poll_transmit(&mut reply);
        reply.extend_from_slice(b"MORE");
        let n = dialer.handle_input(&reply).unwrap();
        assert_eq!(&reply[n..], b"MORE");
    }

    #[test]
    fn byte_at_a_time() {
        let mut listener = Listener::new();
        let input = b"\x13/multistream/1.0.0\n\x03ls\n\x07/noise\n";
        let mut pending = Vec::new();
        for &b in input {
            pending.push(b);
            let n = listener
                .handle_input(&pending, &mut |p| p == "/noise", &|| vec!["/noise".into()])
                .unwrap();
            pending.drain(..n);
        }
        assert_eq!(listener.selected(), Some("/noise"));
        let mut out = Vec::new();
        listener.poll_transmit(&mut out);
        let mut expected = bytes_of(&Message::Header);
        expected.extend(bytes_of(&Message::Protocols(vec!["/noise".into()])));
        expected.extend(bytes_of(&Message::Protocol("/noise".into())));
        assert_eq!(out, expected);
    }

    #[test]
    fn junk_is_refused_with_typed_errors() {
        let mut l = Listener::new();
        assert!(matches!(
            l.handle_input(b"\x05hello", &mut |_| true, &Vec::new),
            Err(NegotiationError::Malformed(_))
        ));
        let mut l = Listener::new();
        assert!(matches!(
            l.handle_input(b"\x13/multistream/2.0.0\n", &mut |_| true, &Vec::new),
            Err(NegotiationError::WrongHeader(_))
        ));
        let mut l = Listener::new();
        assert!(matches!(
            l.handle_input(&[0xff, 0xff, 0x7f], &mut |_| true, &Vec::new),
            Err(NegotiationError::Framing(_))
        ));
        let mut d = Dialer::new(["/a"]).unwrap();
        assert!(matches!(
            d.handle_input(b"\x03na\n"),
            Err(NegotiationError::Unexpected(_))
        ));
        assert!(matches!(
            Dialer::new(["noslash"]),
            Err(NegotiationError::InvalidProtocol(_))
        ));
        assert!(matches!(
            Dialer::new(Vec::<String>::new()),
            Err(NegotiationError::NoProtocols)
        ));
    }

    #[test]
    fn proposal_flood_is_cut_off() {
        let mut l = Listener::new();
        let mut input = bytes_of(&Message::Header);
        for i in 0..MAX_PROPOSALS + 1 {
            input.extend(bytes_of(&Message::Protocol(format!("/p/{i}"))));
        }
        assert_eq!(
            l.handle_input(&input, &mut |_| false, &Vec::new),
            Err(NegotiationError::TooManyProposals)
        );
    }

    proptest! {
        #[test]
        fn message_round_trip(p in "/[a-z0-9/._-]{0,60}", list in proptest::collection::vec("/[a-z0-9/.]{0,20}", 0..5)) {
            for m in [Message::Protocol(p.clone()), Message::Header, Message::NotAvailable, Message::ListProtocols] {
                let bytes = bytes_of(&m);
                let (decoded, n) = Message::decode(&bytes, false).unwrap().unwrap();
                prop_assert_eq!(n, bytes.len());
                prop_assert_eq!(decoded, m);
            }
            let m = Message::Protocols(list);
            let bytes = bytes_of(&m);
            prop_assert_eq!(Message::decode(&bytes, true).unwrap().unwrap().0, m);
        }

        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Message::decode(&input, false);
            let _ = Message::decode(&input, true);
            let _ = Listener::new().handle_input(&input, &mut |_| true, &Vec::new);
            let _ = Dialer::new(["/x"]).unwrap().handle_input(&input);
        }
    }
}
