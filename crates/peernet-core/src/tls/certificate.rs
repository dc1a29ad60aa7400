//! The libp2p certificate: generation (rcgen) and strict parsing and verification (our own DER
//! walk, ring for the signatures), per libp2p/specs `tls/tls.md` "Peer Authentication".

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

use super::der::{self, Reader};
use super::{Keypair, PublicKey, TlsError};
use crate::PeerId;

/// The OID of the libp2p Public Key Extension, `1.3.6.1.4.1.53594.1.1`.
pub const LIBP2P_EXTENSION_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 53594, 1, 1];

/// The prefix of the message the host key signs: `"libp2p-tls-handshake:"`, followed by the DER
/// `SubjectPublicKeyInfo` of the certificate key.
pub const SIGNATURE_PREFIX: &[u8] = b"libp2p-tls-handshake:";

/// How long generated certificates stay valid, counted from one hour before their creation
/// (go-libp2p uses the same hour of slack for clock skew and 100 years of validity).
const VALIDITY_SECS: i64 = 100 * 365 * 24 * 3600;
/// Backdating of `NotBefore`, to tolerate peers whose clock is behind ours.
const CLOCK_SKEW_SECS: i64 = 3600;

/// Content octets of the OIDs we recognise.
mod oid {
    /// 1.3.6.1.4.1.53594.1.1, the libp2p Public Key Extension.
    pub(super) const LIBP2P_EXTENSION: &[u8] =
        &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xa2, 0x5a, 0x01, 0x01];
    /// 2.5.29.19 basicConstraints.
    pub(super) const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    /// 2.5.29.15 keyUsage.
    pub(super) const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    /// 2.5.29.37 extKeyUsage.
    pub(super) const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    /// 1.2.840.10045.2.1 id-ecPublicKey.
    pub(super) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// 1.2.840.10045.3.1.7 prime256v1 (P-256).
    pub(super) const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// 1.3.132.0.34 secp384r1 (P-384).
    pub(super) const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// 1.3.101.112 Ed25519 (both key and signature algorithm).
    pub(super) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// 1.2.840.113549.1.1.1 rsaEncryption.
    pub(super) const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// 1.2.840.10045.4.3.2 ecdsa-with-SHA256.
    pub(super) const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    /// 1.2.840.10045.4.3.3 ecdsa-with-SHA384.
    pub(super) const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    /// 1.2.840.113549.1.1.11 sha256WithRSAEncryption.
    pub(super) const RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
    /// 1.2.840.113549.1.1.12 sha384WithRSAEncryption.
    pub(super) const RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
    /// 1.2.840.113549.1.1.13 sha512WithRSAEncryption.
    pub(super) const RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
}

/// The contents of the libp2p Public Key Extension (`SignedKey ::= SEQUENCE { publicKey OCTET
/// STRING, signature OCTET STRING }`), borrowed from the DER it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedKey<'a> {
    /// The host public key, protobuf-encoded (libp2p/specs `peer-ids`).
    pub public_key: &'a [u8],
    /// The host key's signature over [`SIGNATURE_PREFIX`] and the certificate's
    /// `SubjectPublicKeyInfo`.
    pub signature: &'a [u8],
}

impl<'a> SignedKey<'a> {
    /// Parses the DER `SignedKey` strictly: one SEQUENCE of exactly two OCTET STRINGs, nothing
    /// after it. The public key is not decoded here.
    pub fn from_der(der: &'a [u8]) -> Result<SignedKey<'a>, TlsError> {
        let malformed = |context| TlsError::MalformedExtension { context };
        let mut outer = Reader::new(der);
        let mut seq = outer.sequence("SignedKey").map_err(malformed)?;
        outer.finish("bytes after SignedKey").map_err(malformed)?;
        let public_key = seq
            .read(der::OCTET_STRING, "SignedKey.publicKey")
            .map_err(malformed)?
            .value;
        let signature = seq
            .read(der::OCTET_STRING, "SignedKey.signature")
            .map_err(malformed)?
            .value;
        seq.finish("extra fields in SignedKey").map_err(malformed)?;
        Ok(SignedKey {
            public_key,
            signature,
        })
    }

    /// The DER encoding.
    pub fn to_der(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.public_key.len() + self.signature.len() + 8);
        write_tlv(der::OCTET_STRING, self.public_key, &mut body);
        write_tlv(der::OCTET_STRING, self.signature, &mut body);
        let mut out = Vec::with_capacity(body.len() + 4);
        write_tlv(der::SEQUENCE, &body, &mut out);
        out
    }
}

/// Appends a DER element with a definite, minimal length.
fn write_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(value);
}

/// A verified libp2p certificate: the peer it authenticates and the certificate key the TLS
/// handshake must be signed with.
#[derive(Debug, Clone)]
pub struct P2pCertificate {
    peer_id: PeerId,
    public_key: PublicKey,
    spki: Vec<u8>,
    not_before: i64,
    not_after: i64,
}

impl P2pCertificate {
    /// The peer id of the host key carried in the libp2p extension.
    pub fn peer_id(&self) -> &PeerId {
        &self.peer_id
    }

    /// The host public key carried in the libp2p extension.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The DER `SubjectPublicKeyInfo` of the certificate key (not the host key).
    pub fn subject_public_key_info(&self) -> &[u8] {
        &self.spki
    }

    /// `NotBefore`, in seconds since the Unix epoch.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// `NotAfter`, in seconds since the Unix epoch.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Checks that `now` lies within the certificate's validity period.
    pub fn check_validity(&self, now: UnixTime) -> Result<(), TlsError> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now < self.not_before {
            Err(TlsError::NotYetValid)
        } else if now > self.not_after {
            Err(TlsError::Expired)
        } else {
            Ok(())
        }
    }
}

/// The algorithm of a certificate key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAlgorithm {
    P256,
    P384,
    Ed25519,
    Rsa,
}

/// The parts of a certificate the checks need, borrowed from its DER.
struct RawCertificate<'a> {
    /// The whole `TBSCertificate` element: what the self-signature covers.
    tbs: &'a [u8],
    /// The `signatureAlgorithm` OID and its parameters (content of the AlgorithmIdentifier).
    signature_algorithm: &'a [u8],
    signature: &'a [u8],
    /// The whole `SubjectPublicKeyInfo` element.
    spki: &'a [u8],
    key_algorithm: KeyAlgorithm,
    /// The `subjectPublicKey` bits.
    key: &'a [u8],
    not_before: i64,
    not_after: i64,
    /// The content of the libp2p extension's `extnValue`.
    extension: &'a [u8],
}

/// Parses and verifies a certificate presented by a peer, doing every check of the spec that
/// does not depend on the current time (use [`P2pCertificate::check_validity`] for that):
///
/// - strict DER X.509 v3 structure, inner and outer signature algorithms equal, no
///   `issuerUniqueID`/`subjectUniqueID`;
/// - EC keys use a named curve (P-256 or P-384); signature hashes are at least 256 bits;
/// - the self-signature is valid;
/// - exactly one libp2p extension, no duplicate extensions, no unknown critical extension;
/// - the host key in the extension parses and its signature over
///   `"libp2p-tls-handshake:" || SubjectPublicKeyInfo` is valid.
pub fn parse_certificate(der: &[u8]) -> Result<P2pCertificate, TlsError> {
    // Cheap decoding first, signatures last: garbage costs no public-key operation (and the
    // fuzzer reaches the host-key parser).
    let raw = parse_raw(der)?;
    let signed_key = SignedKey::from_der(raw.extension)?;
    let public_key =
        PublicKey::from_protobuf_encoding(signed_key.public_key).map_err(TlsError::HostKey)?;
    verify_self_signature(&raw)?;
    let mut message = Vec::with_capacity(SIGNATURE_PREFIX.len() + raw.spki.len());
    message.extend_from_slice(SIGNATURE_PREFIX);
    message.extend_from_slice(raw.spki);
    if !public_key.verify(&message, signed_key.signature) {
        return Err(TlsError::BadExtensionSignature);
    }
    Ok(P2pCertificate {
        peer_id: public_key.to_peer_id(),
        public_key,
        spki: raw.spki.to_vec(),
        not_before: raw.not_before,
        not_after: raw.not_after,
    })
}

/// Extracts the `SubjectPublicKeyInfo` of a certificate after the structural checks, without
/// verifying signatures (for the TLS handshake signature, once the certificate was verified).
pub(crate) fn certificate_spki(der: &[u8]) -> Result<&[u8], TlsError> {
    parse_raw(der).map(|raw| raw.spki)
}

/// The structural pass over a certificate.
fn parse_raw(input: &[u8]) -> Result<RawCertificate<'_>, TlsError> {
    let malformed = |context| TlsError::MalformedCertificate { context };
    let mut outer = Reader::new(input);
    let mut cert = outer.sequence("Certificate").map_err(malformed)?;
    outer.finish("bytes after Certificate").map_err(malformed)?;

    let tbs_tlv = cert
        .read(der::SEQUENCE, "tbsCertificate")
        .map_err(malformed)?;
    let signature_algorithm = cert
        .read(der::SEQUENCE, "signatureAlgorithm")
        .map_err(malformed)?
        .value;
    let signature = cert.bit_string_bytes("signatureValue").map_err(malformed)?;
    cert.finish("extra fields in Certificate")
        .map_err(malformed)?;

    let mut tbs = Reader::new(tbs_tlv.value);
    // version [0] EXPLICIT INTEGER: must be v3 (2), the only version with extensions.
    let version = tbs
        .read_optional(der::context_constructed(0), "version")
        .map_err(malformed)?
        .ok_or(TlsError::UnsupportedVersion)?;
    let mut version = Reader::new(version.value);
    let v = version.read(der::INTEGER, "version").map_err(malformed)?;
    version.finish("version").map_err(malformed)?;
    if v.value != [2] {
        return Err(TlsError::UnsupportedVersion);
    }
    let serial = tbs.read(der::INTEGER, "serialNumber").map_err(malformed)?;
    if serial.value.is_empty() {
        return Err(malformed("serialNumber"));
    }
    let inner_algorithm = tbs
        .read(der::SEQUENCE, "signature")
        .map_err(malformed)?
        .value;
    if inner_algorithm != signature_algorithm {
        return Err(TlsError::SignatureAlgorithmMismatch);
    }
    tbs.read(der::SEQUENCE, "issuer").map_err(malformed)?;
    let mut validity = tbs.sequence("validity").map_err(malformed)?;
    let not_before = validity.time("notBefore").map_err(malformed)?;
    let not_after = validity.time("notAfter").map_err(malformed)?;
    validity.finish("validity").map_err(malformed)?;
    tbs.read(der::SEQUENCE, "subject").map_err(malformed)?;
    let spki_tlv = tbs
        .read(der::SEQUENCE, "subjectPublicKeyInfo")
        .map_err(malformed)?;
    let (key_algorithm, key) = parse_spki(spki_tlv.value)?;

    // issuerUniqueID [1] and subjectUniqueID [2]: "Certificates MUST omit" them.
    for n in [1, 2] {
        if matches!(tbs.peek_tag(), Some(t) if t == der::context_primitive(n) || t == der::context_constructed(n))
        {
            return Err(TlsError::UniqueIdPresent);
        }
    }
    let extensions = tbs
        .read_optional(der::context_constructed(3), "extensions")
        .map_err(malformed)?
        .ok_or(TlsError::MissingExtension)?;
    tbs.finish("extra fields in tbsCertificate")
        .map_err(malformed)?;
    let extension = find_libp2p_extension(extensions.value)?;

    Ok(RawCertificate {
        tbs: tbs_tlv.raw,
        signature_algorithm,
        signature,
        spki: spki_tlv.raw,
        key_algorithm,
        key,
        not_before,
        not_after,
        extension,
    })
}

/// Parses the content of a `SubjectPublicKeyInfo`.
fn parse_spki(content: &[u8]) -> Result<(KeyAlgorithm, &[u8]), TlsError> {
    let malformed = |context| TlsError::MalformedCertificate { context };
    let mut spki = Reader::new(content);
    let mut algorithm = spki
        .sequence("subjectPublicKeyInfo.algorithm")
        .map_err(malformed)?;
    let key = spki
        .bit_string_bytes("subjectPublicKey")
        .map_err(malformed)?;
    spki.finish("subjectPublicKeyInfo").map_err(malformed)?;
    let algorithm_oid = algorithm
        .read(der::OID, "subjectPublicKeyInfo.algorithm")
        .map_err(malformed)?
        .value;
    let key_algorithm = match algorithm_oid {
        oid::EC_PUBLIC_KEY => {
            // Only namedCurve parameters: explicit curve parameters (a SEQUENCE) allow the
            // "Whose Curve Is It Anyway" attack.
            let curve = algorithm
                .read(der::OID, "EC parameters")
                .map_err(|_| TlsError::NotNamedCurve)?
                .value;
            match curve {
                oid::P256 => KeyAlgorithm::P256,
                oid::P384 => KeyAlgorithm::P384,
                _ => return Err(TlsError::UnsupportedCertificateKey),
            }
        }
        oid::ED25519 => KeyAlgorithm::Ed25519,
        oid::RSA => {
            algorithm
                .read_optional(der::NULL, "RSA parameters")
                .map_err(malformed)?;
            KeyAlgorithm::Rsa
        }
        _ => return Err(TlsError::UnsupportedCertificateKey),
    };
    algorithm
        .finish("subjectPublicKeyInfo.algorithm")
        .map_err(malformed)?;
    Ok((key_algorithm, key))
}

/// Walks the extensions and returns the libp2p extension's value.
fn find_libp2p_extension(explicit: &[u8]) -> Result<&[u8], TlsError> {
    let malformed = |context| TlsError::MalformedCertificate { context };
    let mut wrapper = Reader::new(explicit);
    let mut list = wrapper.sequence("extensions").map_err(malformed)?;
    wrapper.finish("extensions").map_err(malformed)?;
    let mut seen: Vec<&[u8]> = Vec::new();
    let mut found = None;
    while !list.is_empty() {
        let mut ext = list.sequence("Extension").map_err(malformed)?;
        let id = ext
            .read(der::OID, "Extension.extnID")
            .map_err(malformed)?
            .value;
        let critical = if ext.peek_tag() == Some(der::BOOLEAN) {
            ext.boolean("Extension.critical").map_err(malformed)?
        } else {
            false
        };
        let value = ext
            .read(der::OCTET_STRING, "Extension.extnValue")
            .map_err(malformed)?
            .value;
        ext.finish("Extension").map_err(malformed)?;
        // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a
        // particular extension." Certificates carry a handful of extensions: linear is fine.
        if seen.contains(&id) {
            return Err(TlsError::DuplicateExtension);
        }
        seen.push(id);
        match id {
            oid::LIBP2P_EXTENSION => found = Some(value),
            // Understood in the sense that they cannot weaken anything here: the certificate
            // is self-signed and not used for chain building (js-libp2p marks
            // basicConstraints critical).
            oid::BASIC_CONSTRAINTS | oid::KEY_USAGE | oid::EXT_KEY_USAGE => {}
            _ if critical => return Err(TlsError::UnknownCriticalExtension),
            _ => {}
        }
    }
    found.ok_or(TlsError::MissingExtension)
}

/// Verifies the certificate's signature over its `TBSCertificate` with its own key.
fn verify_self_signature(raw: &RawCertificate<'_>) -> Result<(), TlsError> {
    use ring::signature as sig;
    let mut algorithm = Reader::new(raw.signature_algorithm);
    let id = algorithm
        .read(der::OID, "signatureAlgorithm")
        .map_err(|context| TlsError::MalformedCertificate { context })?
        .value;
    let params_ok = match id {
        // RFC 4055: NULL parameters for RSA PKCS#1 (some encoders omit them).
        oid::RSA_SHA256 | oid::RSA_SHA384 | oid::RSA_SHA512 => algorithm
            .read_optional(der::NULL, "signatureAlgorithm")
            .is_ok_and(|_| algorithm.is_empty()),
        // RFC 5758 and RFC 8410: no parameters.
        _ => algorithm.is_empty(),
    };
    if !params_ok {
        return Err(TlsError::UnsupportedSignatureAlgorithm);
    }
    let verifier: &'static dyn sig::VerificationAlgorithm = match (id, raw.key_algorithm) {
        (oid::ECDSA_SHA256, KeyAlgorithm::P256) => &sig::ECDSA_P256_SHA256_ASN1,
        (oid::ECDSA_SHA384, KeyAlgorithm::P256) => &sig::ECDSA_P256_SHA384_ASN1,
        (oid::ECDSA_SHA256, KeyAlgorithm::P384) => &sig::ECDSA_P384_SHA256_ASN1,
        (oid::ECDSA_SHA384, KeyAlgorithm::P384) => &sig::ECDSA_P384_SHA384_ASN1,
        (oid::ED25519, KeyAlgorithm::Ed25519) => &sig::ED25519,
        (oid::RSA_SHA256, KeyAlgorithm::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (oid::RSA_SHA384, KeyAlgorithm::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (oid::RSA_SHA512, KeyAlgorithm::Rsa) => &sig::RSA_PKCS1_2048_8192_SHA512,
        // MD5, SHA-1, RSA-PSS, key/algorithm mismatches and anything unknown.
        _ => return Err(TlsError::UnsupportedSignatureAlgorithm),
    };
    sig::UnparsedPublicKey::new(verifier, raw.key)
        .verify(raw.tbs, raw.signature)
        .map_err(|_| TlsError::BadSelfSignature)
}

/// Generates a certificate for `keypair` valid from an hour before now for 100 years, with a
/// fresh P-256 certificate key (ECDSA with SHA-256, what go-libp2p and rust-libp2p use).
///
/// Reads the system clock (as rustls itself does); [`make_certificate_at`] takes the time.
pub fn make_certificate(
    keypair: &Keypair,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    make_certificate_at(keypair, UnixTime::now())
}

/// [`make_certificate`] at a given time: `NotBefore` is an hour before `now`, `NotAfter` 100
/// years after it. The serial number is random.
pub fn make_certificate_at(
    keypair: &Keypair,
    now: UnixTime,
) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
    let generation = |e: rcgen::Error| TlsError::CertificateGeneration(e.to_string());
    let certificate_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generation)?;
    let spki = certificate_key.public_key_der();
    let mut message = Vec::with_capacity(SIGNATURE_PREFIX.len() + spki.len());
    message.extend_from_slice(SIGNATURE_PREFIX);
    message.extend_from_slice(&spki);
    let signature = keypair.sign(&message);
    let host_key = keypair.public().to_protobuf_encoding();
    let signed_key = SignedKey {
        public_key: &host_key,
        signature: &signature,
    };
    let mut extension =
        rcgen::CustomExtension::from_oid_content(LIBP2P_EXTENSION_OID, signed_key.to_der());
    extension.set_criticality(true);

    // A positive 63-bit serial, like go-libp2p.
    let serial = rand::random::<u64>() >> 1;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let time = |secs: i64| {
        time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|e| TlsError::CertificateGeneration(e.to_string()))
    };
    let mut params = rcgen::CertificateParams::default();
    params.not_before = time(now.saturating_sub(CLOCK_SKEW_SECS))?;
    params.not_after = time(now.saturating_add(VALIDITY_SECS))?;
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    // The subject carries the serial number, as go-libp2p does; RFC 5280 wants a non-empty
    // issuer, and a self-signed certificate's issuer is its subject.
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]),
        rcgen::DnValue::PrintableString(
            serial
                .to_string()
                .try_into()
                .map_err(|e: rcgen::Error| TlsError::CertificateGeneration(e.to_string()))?,
        ),
    );
    params.distinguished_name = name;
    params.custom_extensions = vec![extension];
    let certificate = params.self_signed(&certificate_key).map_err(generation)?;
    Ok((
        certificate.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificate_key.serialize_der())),
    ))
}
