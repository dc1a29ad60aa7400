//! The libp2p Noise handshake as a sans-IO state machine: framed bytes in, framed bytes out.
//!
//! ```text
//! initiator                                              responder
//!   InitiatorAwait2  -- [len] e ----------------------->  ResponderStart
//!                    <- [len] e, ee, s, es, payload ---  ResponderAwait3
//!   (verify payload)
//!   Done             -- [len] s, se, payload ---------->  (verify payload) Done
//! ```
//!
//! The payloads carry each side's identity key, its signature over
//! `"noise-libp2p-static-key:" || noise static key`, and the stream muxers it supports. The
//! initiator verifies the responder before it sends message 3, so it never reveals its identity
//! to a responder that failed authentication or is not the peer it dialed.

use super::payload::{NoiseExtensions, NoiseHandshakePayload};
use super::transport::{message_len, Transport, LENGTH_PREFIX_LEN, MAX_MESSAGE_LEN};
use super::xx::{self, DhKeypair, DH_LEN};
use super::NoiseError;
use crate::{Keypair, PeerId, PublicKey};

/// What is signed with the identity key: this prefix followed by the Noise static public key.
pub const STATIC_KEY_SIGNATURE_PREFIX: &[u8] = b"noise-libp2p-static-key:";

/// What a completed handshake proved about the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInfo {
    /// The remote's peer id, derived from its verified identity key.
    pub peer_id: PeerId,
    /// The remote's identity public key.
    pub public_key: PublicKey,
    /// The stream muxers the remote announced, in its order of preference (empty when it sent
    /// no extensions, as implementations without inlined muxer negotiation do).
    pub muxers: Vec<String>,
    /// The result of inlined muxer negotiation: the first muxer in the initiator's list that the
    /// responder also announced, or `None` when either side announced none or they share none,
    /// in which case the muxer is negotiated with multistream-select after the handshake.
    ///
    /// The inlined-muxer-negotiation spec says a handshake without overlap "MUST fail"; go-libp2p
    /// (the only implementation that announces muxers) instead falls back to multistream-select,
    /// and the network follows it, so we do too.
    pub negotiated_muxer: Option<String>,
    /// The remote's Noise static X25519 public key.
    pub noise_static_key: [u8; DH_LEN],
}

/// Which step the handshake is at; each variant holds the typed XX state for that step.
enum Step {
    /// Initiator: message 1 sent, waiting for message 2.
    InitiatorAwait2(xx::InitiatorAwait2),
    /// Responder: waiting for message 1.
    ResponderStart(xx::ResponderStart),
    /// Responder: message 2 sent, waiting for message 3.
    ResponderAwait3(xx::ResponderAwait3),
    /// Both sides: complete.
    Done(Box<(Transport, RemoteInfo)>),
    /// A previous call failed, or the result was taken.
    Failed,
}

/// A libp2p Noise handshake in either role, driven by bytes.
///
/// How a driver uses it:
/// 1. after construction and after every [`handle_input`](Self::handle_input), send what
///    [`poll_transmit`](Self::poll_transmit) hands over (the initiator has message 1 ready at once);
/// 2. while [`is_finished`](Self::is_finished) is false, read from the connection and feed the
///    bytes to [`handle_input`](Self::handle_input), which consumes only what belongs to the
///    handshake — bytes it did not consume are the first transport frames;
/// 3. once finished and the output is sent, [`finish`](Self::finish) yields the [`Transport`] and
///    the [`RemoteInfo`].
///
/// If the connection closes before the handshake finishes, that is the driver's error to report.
/// Any error from this type is final: the handshake cannot continue.
///
/// ```
/// use peernet_core::noise::Handshake;
/// use peernet_core::Keypair;
///
/// let (alice, bob) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
/// let mut dialer = Handshake::initiator(&alice, Some(bob.to_peer_id()), &["/yamux/1.0.0"]);
/// let mut listener = Handshake::responder(&bob, None, &["/yamux/1.0.0"]);
///
/// // Carry the bytes by hand: -> e, <- e ee s es, -> s se.
/// let mut wire = Vec::new();
/// while !(dialer.is_finished() && listener.is_finished()) {
///     dialer.poll_transmit(&mut wire);
///     listener.handle_input(&wire)?;
///     wire.clear();
///     listener.poll_transmit(&mut wire);
///     dialer.handle_input(&wire)?;
///     wire.clear();
/// }
/// let (mut to_bob, bob_info) = dialer.finish()?;
/// let (mut to_alice, alice_info) = listener.finish()?;
/// assert_eq!(bob_info.peer_id, bob.to_peer_id());
/// assert_eq!(alice_info.negotiated_muxer.as_deref(), Some("/yamux/1.0.0"));
///
/// // Transport frames: 2-byte length prefix, ciphertext, 16-byte tag.
/// let mut frame = Vec::new();
/// to_bob.encrypt(b"hello", &mut frame)?;
/// let mut plain = Vec::new();
/// to_alice.decrypt(&frame[2..], &mut plain)?;
/// assert_eq!(plain, b"hello");
/// # Ok::<(), peernet_core::noise::NoiseError>(())
/// ```
pub struct Handshake {
    step: Step,
    identity: Keypair,
    expected: Option<PeerId>,
    muxers: Vec<String>,
    /// The message being received (length prefix included), at most 2 + 65535 bytes.
    inbuf: Vec<u8>,
    /// Framed messages waiting to be handed to the driver.
    outbuf: Vec<u8>,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let step = match self.step {
            Step::InitiatorAwait2(_) => "InitiatorAwait2",
            Step::ResponderStart(_) => "ResponderStart",
            Step::ResponderAwait3(_) => "ResponderAwait3",
            Step::Done(_) => "Done",
            Step::Failed => "Failed",
        };
        f.debug_struct("Handshake")
            .field("step", &step)
            .field("expected", &self.expected)
            .field("muxers", &self.muxers)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts a handshake as the dialer. Message 1 is ready in [`poll_transmit`](Self::poll_transmit)
    /// at once.
    ///
    /// `expected` is the peer id that was dialed, if known: a remote proving another identity is
    /// refused with [`NoiseError::PeerIdMismatch`]. `muxers` are announced in message 3 in order
    /// of preference (empty: no inlined muxer negotiation).
    pub fn initiator(identity: &Keypair, expected: Option<PeerId>, muxers: &[&str]) -> Self {
        Self::initiator_with_keys(
            identity,
            expected,
            muxers,
            DhKeypair::generate(),
            DhKeypair::generate(),
        )
    }

    /// Starts a handshake as the listener.
    ///
    /// `expected` is usually `None` for a listener; when set, a different remote is refused as
    /// for the initiator. `muxers` are announced in message 2.
    pub fn responder(identity: &Keypair, expected: Option<PeerId>, muxers: &[&str]) -> Self {
        Self::responder_with_keys(
            identity,
            expected,
            muxers,
            DhKeypair::generate(),
            DhKeypair::generate(),
        )
    }

    pub(crate) fn initiator_with_keys(
        identity: &Keypair,
        expected: Option<PeerId>,
        muxers: &[&str],
        s: DhKeypair,
        e: DhKeypair,
    ) -> Self {
        let mut hs = Self::new(identity, expected, muxers, Step::Failed);
        let mut msg = Vec::with_capacity(DH_LEN);
        // Message 1 carries no payload: its content would be sent in clear.
        match xx::InitiatorStart::new(&[], s, e).write_message1(&[], &mut msg) {
            Ok(next) => {
                hs.push_message(&msg);
                hs.step = Step::InitiatorAwait2(next);
            }
            // Cannot happen for an empty payload; the handshake then reports misuse on use.
            Err(_) => hs.step = Step::Failed,
        }
        hs
    }

    pub(crate) fn responder_with_keys(
        identity: &Keypair,
        expected: Option<PeerId>,
        muxers: &[&str],
        s: DhKeypair,
        e: DhKeypair,
    ) -> Self {
        let step = Step::ResponderStart(xx::ResponderStart::new(&[], s, e));
        Self::new(identity, expected, muxers, step)
    }

    fn new(identity: &Keypair, expected: Option<PeerId>, muxers: &[&str], step: Step) -> Self {
        Handshake {
            step,
            identity: identity.clone(),
            expected,
            muxers: muxers.iter().map(|m| (*m).to_owned()).collect(),
            inbuf: Vec::new(),
            outbuf: Vec::new(),
        }
    }

    /// Whether the handshake is complete: no more input is needed.
    pub fn is_finished(&self) -> bool {
        matches!(self.step, Step::Done(_))
    }

    /// Whether the handshake waits for input from the remote.
    #[must_use]
    pub fn wants_input(&self) -> bool {
        matches!(
            self.step,
            Step::InitiatorAwait2(_) | Step::ResponderStart(_) | Step::ResponderAwait3(_)
        )
    }

    /// Whether framed bytes wait to be sent.
    #[must_use]
    pub fn wants_transmit(&self) -> bool {
        !self.outbuf.is_empty()
    }

    /// Moves the framed bytes waiting to be sent to the end of `out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            std::mem::swap(out, &mut self.outbuf);
        } else {
            out.append(&mut self.outbuf);
        }
    }

    /// Feeds bytes received from the remote and returns how many were consumed.
    ///
    /// Consumes everything up to the end of the last handshake message and nothing beyond it:
    /// when fewer bytes are returned than were given, the rest are transport frames and belong
    /// to the [`Transport`]. A partial message is buffered (at most 65537 bytes).
    pub fn handle_input(&mut self, input: &[u8]) -> Result<usize, NoiseError> {
        let mut consumed = 0;
        while self.wants_input() {
            let rest = input.get(consumed..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            // Complete the length prefix first, then the message it announces.
            let want = match message_len(&self.inbuf) {
                None => LENGTH_PREFIX_LEN,
                Some(len) => LENGTH_PREFIX_LEN + len,
            };
            let take = want.saturating_sub(self.inbuf.len()).min(rest.len());
            self.inbuf
                .extend_from_slice(rest.get(..take).unwrap_or_default());
            consumed += take;
            match message_len(&self.inbuf) {
                Some(len) if self.inbuf.len() == LENGTH_PREFIX_LEN + len => {
                    let msg = std::mem::take(&mut self.inbuf);
                    let body = msg.get(LENGTH_PREFIX_LEN..).unwrap_or_default();
                    if let Err(e) = self.on_message(body) {
                        self.step = Step::Failed;
                        return Err(e);
                    }
                    // Reuse the allocation for the next message.
                    self.inbuf = msg;
                    self.inbuf.clear();
                }
                _ => {}
            }
        }
        if matches!(self.step, Step::Failed) {
            return Err(NoiseError::Misuse(
                "input fed to a failed or finished handshake",
            ));
        }
        Ok(consumed)
    }

    /// Takes the result of a finished handshake.
    ///
    /// Fails with [`NoiseError::Misuse`] when the handshake is not finished or its last message
    /// was not taken with [`poll_transmit`](Self::poll_transmit).
    pub fn finish(mut self) -> Result<(Transport, RemoteInfo), NoiseError> {
        if self.wants_transmit() {
            return Err(NoiseError::Misuse(
                "handshake output not taken before finish",
            ));
        }
        match std::mem::replace(&mut self.step, Step::Failed) {
            Step::Done(done) => Ok(*done),
            _ => Err(NoiseError::Misuse("handshake not finished")),
        }
    }

    fn push_message(&mut self, msg: &[u8]) {
        // Every message is built within MAX_MESSAGE_LEN (xx checks the payload length).
        let len = msg.len().min(MAX_MESSAGE_LEN) as u16;
        self.outbuf.extend_from_slice(&len.to_be_bytes());
        self.outbuf.extend_from_slice(msg);
    }

    /// Our payload for a given Noise static key.
    fn local_payload(&self, static_key: &[u8; DH_LEN]) -> Vec<u8> {
        let mut signed = Vec::with_capacity(STATIC_KEY_SIGNATURE_PREFIX.len() + DH_LEN);
        signed.extend_from_slice(STATIC_KEY_SIGNATURE_PREFIX);
        signed.extend_from_slice(static_key);
        let extensions = (!self.muxers.is_empty()).then(|| NoiseExtensions {
            webtransport_certhashes: Vec::new(),
            stream_muxers: self.muxers.clone(),
        });
        NoiseHandshakePayload {
            identity_key: self.identity.public().to_protobuf_encoding(),
            identity_sig: self.identity.sign(&signed),
            extensions,
        }
        .to_vec()
    }

    /// Checks the remote's payload against its Noise static key and the expected peer id.
    fn verify_remote(
        &self,
        payload: &[u8],
        static_key: &[u8; DH_LEN],
    ) -> Result<(PeerId, PublicKey, Vec<String>), NoiseError> {
        let payload = NoiseHandshakePayload::decode(payload)?;
        if payload.identity_key.is_empty() {
            return Err(NoiseError::MissingPayloadField("identity_key"));
        }
        if payload.identity_sig.is_empty() {
            return Err(NoiseError::MissingPayloadField("identity_sig"));
        }
        let public_key = PublicKey::from_protobuf_encoding(&payload.identity_key)
            .map_err(NoiseError::InvalidIdentityKey)?;
        let mut signed = Vec::with_capacity(STATIC_KEY_SIGNATURE_PREFIX.len() + DH_LEN);
        signed.extend_from_slice(STATIC_KEY_SIGNATURE_PREFIX);
        signed.extend_from_slice(static_key);
        if !public_key.verify(&signed, &payload.identity_sig) {
            return Err(NoiseError::InvalidSignature);
        }
        let peer_id = public_key.to_peer_id();
        if let Some(expected) = &self.expected {
            if *expected != peer_id {
                return Err(NoiseError::PeerIdMismatch {
                    expected: expected.clone(),
                    actual: peer_id,
                });
            }
        }
        let muxers = payload
            .extensions
            .map(|ext| ext.stream_muxers)
            .unwrap_or_default();
        Ok((peer_id, public_key, muxers))
    }

    /// Processes one complete handshake message (without its length prefix).
    fn on_message(&mut self, msg: &[u8]) -> Result<(), NoiseError> {
        match std::mem::replace(&mut self.step, Step::Failed) {
            Step::ResponderStart(state) => {
                // libp2p initiators send no payload in message 1; one that does is ignored
                // (it is clear text and unauthenticated, so it could carry nothing we trust).
                let mut ignored = Vec::new();
                let state = state.read_message1(msg, &mut ignored)?;
                let payload = self.local_payload(state.local_static());
                let mut out = Vec::with_capacity(2 * DH_LEN + 32 + payload.len());
                let next = state.write_message2(&payload, &mut out)?;
                self.push_message(&out);
                self.step = Step::ResponderAwait3(next);
            }
            Step::InitiatorAwait2(state) => {
                let mut payload = Vec::new();
                let state = state.read_message2(msg, &mut payload)?;
                let remote_static = *state.remote_static();
                let (peer_id, public_key, muxers) = self.verify_remote(&payload, &remote_static)?;
                let negotiated_muxer = first_common(&self.muxers, &muxers);
                let our_payload = self.local_payload(state.local_static());
                let mut out = Vec::with_capacity(DH_LEN + 32 + our_payload.len());
                let done = state.write_message3(&our_payload, &mut out)?;
                self.push_message(&out);
                let info = RemoteInfo {
                    peer_id,
                    public_key,
                    muxers,
                    negotiated_muxer,
                    noise_static_key: remote_static,
                };
                let transport = Transport::new(done.send, done.recv, done.handshake_hash);
                self.step = Step::Done(Box::new((transport, info)));
            }
            Step::ResponderAwait3(state) => {
                let mut payload = Vec::new();
                let done = state.read_message3(msg, &mut payload)?;
                let (peer_id, public_key, muxers) =
                    self.verify_remote(&payload, &done.remote_static)?;
                let negotiated_muxer = first_common(&muxers, &self.muxers);
                let info = RemoteInfo {
                    peer_id,
                    public_key,
                    muxers,
                    negotiated_muxer,
                    noise_static_key: done.remote_static,
                };
                let transport = Transport::new(done.send, done.recv, done.handshake_hash);
                self.step = Step::Done(Box::new((transport, info)));
            }
            Step::Done(_) | Step::Failed => {
                return Err(NoiseError::Misuse("message fed to a finished handshake"));
            }
        }
        Ok(())
    }
}

/// The first entry of the initiator's list that the responder also announced.
fn first_common(initiator: &[String], responder: &[String]) -> Option<String> {
    initiator.iter().find(|m| responder.contains(m)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::MAX_PLAINTEXT_LEN;

    const YAMUX: &str = "/yamux/1.0.0";
    const MPLEX: &str = "/mplex/6.7.0";

    /// Moves all output of `from` into `to`; returns the bytes `to` did not consume.
    fn pump(from: &mut Handshake, to: &mut Handshake) -> Result<Vec<u8>, NoiseError> {
        let mut wire = Vec::new();
        from.poll_transmit(&mut wire);
        let n = to.handle_input(&wire)?;
        Ok(wire[n..].to_vec())
    }

    type Outcome = ((Transport, RemoteInfo), (Transport, RemoteInfo));

    fn run(mut init: Handshake, mut resp: Handshake) -> Result<Outcome, NoiseError> {
        assert!(init.wants_transmit() && !resp.wants_transmit());
        pump(&mut init, &mut resp)?; // -> e
        pump(&mut resp, &mut init)?; // <- e, ee, s, es
        assert!(init.is_finished());
        pump(&mut init, &mut resp)?; // -> s, se
        assert!(resp.is_finished());
        Ok((init.finish()?, resp.finish()?))
    }

    fn keys() -> (Keypair, Keypair) {
        (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2))
    }

    #[test]
    fn handshake_authenticates_both_sides_and_transports_data() {
        let (a, b) = keys();
        let init = Handshake::initiator(&a, Some(b.public().to_peer_id()), &[YAMUX]);
        let resp = Handshake::responder(&b, None, &[YAMUX]);
        let ((mut ti, ri), (mut tr, rr)) = run(init, resp).unwrap();
        assert_eq!(ri.peer_id, b.public().to_peer_id());
        assert_eq!(&ri.public_key, b.public());
        assert_eq!(rr.peer_id, a.public().to_peer_id());
        assert_eq!(ri.negotiated_muxer.as_deref(), Some(YAMUX));
        assert_eq!(rr.negotiated_muxer.as_deref(), Some(YAMUX));
        assert_eq!(ti.handshake_hash(), tr.handshake_hash());
        assert_eq!(ri.noise_static_key.len(), 32);

        for (len, from_init) in [
            (0, true),
            (1, false),
            (MAX_PLAINTEXT_LEN, true),
            (1000, false),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let (tx, rx) = if from_init {
                (&mut ti, &mut tr)
            } else {
                (&mut tr, &mut ti)
            };
            let mut frame = Vec::new();
            tx.encrypt(&data, &mut frame).unwrap();
            assert_eq!(message_len(&frame), Some(len + 16));
            let mut plain = Vec::new();
            rx.decrypt(&frame[2..], &mut plain).unwrap();
            assert_eq!(plain, data);
        }
    }

    #[test]
    fn muxer_negotiation_follows_the_initiators_preference() {
        let (a, b) = keys();
        let cases: &[(&[&str], &[&str], Option<&str>)] = &[
            (&[YAMUX, MPLEX], &[MPLEX, YAMUX], Some(YAMUX)),
            (&[MPLEX, YAMUX], &[YAMUX, MPLEX], Some(MPLEX)),
            (&[MPLEX], &[YAMUX], None),
            (&[], &[YAMUX], None),
            (&[YAMUX], &[], None),
        ];
        for (init_muxers, resp_muxers, expected) in cases {
            let init = Handshake::initiator(&a, None, init_muxers);
            let resp = Handshake::responder(&b, None, resp_muxers);
            let ((_, ri), (_, rr)) = run(init, resp).unwrap();
            assert_eq!(ri.negotiated_muxer.as_deref(), *expected);
            assert_eq!(rr.negotiated_muxer.as_deref(), *expected);
            assert_eq!(ri.muxers, *resp_muxers);
            assert_eq!(rr.muxers, *init_muxers);
        }
    }

    #[test]
    fn initiator_refuses_an_unexpected_peer_before_revealing_itself() {
        let (a, b) = keys();
        let other = Keypair::ed25519_from_seed(3).public().to_peer_id();
        let mut init = Handshake::initiator(&a, Some(other.clone()), &[]);
        let mut resp = Handshake::responder(&b, None, &[]);
        pump(&mut init, &mut resp).unwrap();
        let err = pump(&mut resp, &mut init).unwrap_err();
        assert_eq!(
            err,
            NoiseError::PeerIdMismatch {
                expected: other,
                actual: b.public().to_peer_id()
            }
        );
        assert!(!init.wants_transmit(), "message 3 must not be sent");
        assert!(init.handle_input(&[0]).is_err());
        assert!(init.finish().is_err());
    }

    #[test]
    fn responder_with_expectation_refuses_another_initiator() {
        let (a, b) = keys();
        let other = Keypair::ed25519_from_seed(3).public().to_peer_id();
        let init = Handshake::initiator(&a, None, &[]);
        let resp = Handshake::responder(&b, Some(other), &[]);
        assert!(matches!(
            run(init, resp),
            Err(NoiseError::PeerIdMismatch { .. })
        ));
    }

    /// A responder whose payload signs a static key other than the one it uses.
    #[test]
    fn a_signature_over_another_static_key_is_refused() {
        let (a, b) = keys();
        let mut init = Handshake::initiator(&a, None, &[]);
        let signer = Handshake::responder(&b, None, &[]);
        let msg = forged_message2(&mut init, &signer.local_payload(&[9u8; 32]));
        assert_eq!(
            init.handle_input(&msg).unwrap_err(),
            NoiseError::InvalidSignature
        );
    }

    #[test]
    fn bytes_can_arrive_one_at_a_time_and_transport_bytes_are_left_alone() {
        let (a, b) = keys();
        let mut init = Handshake::initiator(&a, None, &[YAMUX]);
        let mut resp = Handshake::responder(&b, None, &[YAMUX]);
        let feed_bytewise = |from: &mut Handshake, to: &mut Handshake| {
            let mut wire = Vec::new();
            from.poll_transmit(&mut wire);
            for byte in &wire {
                assert_eq!(to.handle_input(std::slice::from_ref(byte)).unwrap(), 1);
            }
        };
        feed_bytewise(&mut init, &mut resp);
        feed_bytewise(&mut resp, &mut init);
        feed_bytewise(&mut init, &mut resp);
        assert!(init.is_finished() && resp.is_finished());
        let (mut ti, _) = init.finish().unwrap();
        let (mut tr, _) = resp.finish().unwrap();

        // Initiator pipelines a transport frame behind message 3: the responder must leave it.
        let mut init = Handshake::initiator(&a, None, &[]);
        let mut resp = Handshake::responder(&b, None, &[]);
        pump(&mut init, &mut resp).unwrap();
        pump(&mut resp, &mut init).unwrap();
        let mut wire = Vec::new();
        init.poll_transmit(&mut wire);
        let msg3_len = wire.len();
        let (mut ti2, _) = init.finish().unwrap();
        ti2.encrypt(b"early", &mut wire).unwrap();
        assert_eq!(resp.handle_input(&wire).unwrap(), msg3_len);
        let (mut tr2, _) = resp.finish().unwrap();
        let mut plain = Vec::new();
        tr2.decrypt(&wire[msg3_len + 2..], &mut plain).unwrap();
        assert_eq!(plain, b"early");

        // The first sessions still work and are independent of the second.
        let mut frame = Vec::new();
        tr.encrypt(b"x", &mut frame).unwrap();
        assert!(ti2.decrypt(&frame[2..], &mut Vec::new()).is_err());
        ti.decrypt(&frame[2..], &mut plain).unwrap();
    }

    #[test]
    fn garbage_and_truncation_give_typed_errors() {
        let (a, b) = keys();
        // Message 1 too short.
        let mut resp = Handshake::responder(&b, None, &[]);
        assert!(matches!(
            resp.handle_input(&[0, 5, 1, 2, 3, 4, 5]),
            Err(NoiseError::MessageTooShort { message: 1, .. })
        ));
        // Message 2 of random bytes.
        let mut init = Handshake::initiator(&a, None, &[]);
        let mut garbage = vec![0, 200];
        garbage.extend((0..200).map(|i| (i * 31 + 7) as u8));
        assert_eq!(init.handle_input(&garbage), Err(NoiseError::Decrypt));
        // Message 2 too short for keys and tags.
        let mut init = Handshake::initiator(&a, None, &[]);
        assert!(matches!(
            init.handle_input(&[0, 40])
                .and_then(|_| init.handle_input(&[1; 40])),
            Err(NoiseError::MessageTooShort { message: 2, .. })
        ));
        // A truncated message is simply incomplete: nothing happens until more bytes come.
        let mut init = Handshake::initiator(&a, None, &[]);
        let mut resp = Handshake::responder(&b, None, &[]);
        pump(&mut init, &mut resp).unwrap();
        let mut wire = Vec::new();
        resp.poll_transmit(&mut wire);
        assert_eq!(
            init.handle_input(&wire[..wire.len() - 1]).unwrap(),
            wire.len() - 1
        );
        assert!(init.wants_input() && !init.is_finished());
        // Finishing early is misuse.
        assert!(matches!(init.finish(), Err(NoiseError::Misuse(_))));
    }

    #[test]
    fn a_payload_without_identity_is_refused() {
        let (a, b) = keys();
        let mut init = Handshake::initiator(&a, None, &[]);
        let msg = forged_message2(&mut init, &[]);
        assert_eq!(
            init.handle_input(&msg).unwrap_err(),
            NoiseError::MissingPayloadField("identity_key")
        );
        let mut init = Handshake::initiator(&a, None, &[]);
        let payload = NoiseHandshakePayload {
            identity_key: b.public().to_protobuf_encoding(),
            ..Default::default()
        };
        let msg = forged_message2(&mut init, &payload.to_vec());
        assert_eq!(
            init.handle_input(&msg).unwrap_err(),
            NoiseError::MissingPayloadField("identity_sig")
        );
    }

    #[test]
    fn secp256k1_and_ecdsa_identities_work() {
        let (a, b) = (Keypair::generate_secp256k1(), Keypair::generate_ecdsa());
        let init = Handshake::initiator(&a, Some(b.to_peer_id()), &[YAMUX]);
        let resp = Handshake::responder(&b, Some(a.to_peer_id()), &[YAMUX]);
        let ((_, ri), (_, rr)) = run(init, resp).unwrap();
        assert_eq!(&ri.public_key, b.public());
        assert_eq!(&rr.public_key, a.public());
    }

    /// Builds a message 2 answering `init`'s message 1 with an arbitrary payload.
    fn forged_message2(init: &mut Handshake, payload: &[u8]) -> Vec<u8> {
        let mut wire = Vec::new();
        init.poll_transmit(&mut wire);
        let state = xx::ResponderStart::new(&[], DhKeypair::generate(), DhKeypair::generate());
        let state = state.read_message1(&wire[2..], &mut Vec::new()).unwrap();
        let mut msg = Vec::new();
        state.write_message2(payload, &mut msg).unwrap();
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        framed
    }

    #[test]
    fn an_undecodable_identity_key_is_refused() {
        let (a, _) = keys();
        let mut init = Handshake::initiator(&a, None, &[]);
        let payload = NoiseHandshakePayload {
            identity_key: vec![0x08, 0x09, 0x12, 0x01, 0x00],
            identity_sig: vec![1; 64],
            extensions: None,
        };
        let msg = forged_message2(&mut init, &payload.to_vec());
        assert!(matches!(
            init.handle_input(&msg),
            Err(NoiseError::InvalidIdentityKey(_))
        ));
        let mut init = Handshake::initiator(&a, None, &[]);
        let msg = forged_message2(&mut init, &[0x0a, 0x40]);
        assert!(matches!(
            init.handle_input(&msg),
            Err(NoiseError::MalformedPayload(_))
        ));
    }
}
