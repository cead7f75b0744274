//! Ed25519 keys, key ids and the keyring of trusted public keys.
//!
//! A key id is the first 8 bytes of SHA-256 over the 32-byte public key,
//! written as 16 lowercase hex digits. It names a key; it does not
//! authenticate one (the signature does), so a collision costs at most a
//! failed verification.
//!
//! Public keys travel as SPKI PEM (`-----BEGIN PUBLIC KEY-----`, what
//! `openssl pkey -pubout` writes) or as the base64 of the 32 raw bytes, which
//! is handy to embed in a product's source. Signing keys (feature `issuer`)
//! are PKCS#8 PEM.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The id of a key: 8 bytes, shown as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of a 32-byte Ed25519 public key.
    pub fn of(public_key: &[u8; 32]) -> KeyId {
        let digest = Sha256::digest(public_key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        KeyId(id)
    }

    /// Parses exactly 16 lowercase hex digits.
    pub fn from_hex(s: &str) -> Option<KeyId> {
        crate::util::unhex(s).map(KeyId)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";

/// DER of SubjectPublicKeyInfo { AlgorithmIdentifier { id-Ed25519
/// (1.3.101.112) }, BIT STRING (32 bytes, no unused bits) } up to the key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A trusted Ed25519 public key with its id.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// From the 32 raw bytes. Rejects points that are not on the curve and
    /// keys of small order (which would accept forged signatures).
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey> {
        let key = VerifyingKey::from_bytes(bytes)
            .map_err(|_| Error::InvalidKey("not a valid Ed25519 public key"))?;
        if key.is_weak() {
            return Err(Error::InvalidKey("weak Ed25519 public key (small order)"));
        }
        Ok(PublicKey {
            id: KeyId::of(bytes),
            key,
        })
    }

    /// From the standard base64 of the 32 raw bytes (surrounding whitespace allowed).
    pub fn from_base64(s: &str) -> Result<PublicKey> {
        let raw = B64
            .decode(s.trim())
            .map_err(|_| Error::InvalidKey("public key is not valid base64"))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| Error::InvalidKey("public key must be 32 bytes"))?;
        PublicKey::from_bytes(&bytes)
    }

    /// From an SPKI PEM document (`-----BEGIN PUBLIC KEY-----`). An
    /// Ed25519 SPKI is a fixed 12-byte DER prefix and the 32 key bytes, so
    /// it is read without a DER parser: exactly those 44 bytes, nothing else.
    pub fn from_pem(pem: &str) -> Result<PublicKey> {
        let bad = || Error::InvalidKey("not an Ed25519 SPKI PEM public key");
        let body = pem
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or_else(bad)?;
        let base64: String = body.lines().map(str::trim).collect();
        let der = B64.decode(base64).map_err(|_| bad())?;
        let raw = der.strip_prefix(&ED25519_SPKI_PREFIX).ok_or_else(bad)?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| bad())?;
        PublicKey::from_bytes(&bytes)
    }

    /// From the 64 hex digits of the 32 raw bytes (surrounding whitespace
    /// allowed): how Keygen shows an account's Ed25519 verify key.
    pub fn from_hex(s: &str) -> Result<PublicKey> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes)
            .map_err(|_| Error::InvalidKey("public key is not 64 hex digits"))?;
        PublicKey::from_bytes(&bytes)
    }

    /// From any of its text forms: PEM when it starts with `-----BEGIN`,
    /// hex when it is 64 hex digits (Keygen's form), base64 otherwise. The
    /// forms cannot be confused: 64 base64 characters are 48 bytes, not 32.
    pub fn parse(text: &str) -> Result<PublicKey> {
        let trimmed = text.trim();
        if trimmed.starts_with("-----BEGIN") {
            PublicKey::from_pem(text)
        } else if trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            PublicKey::from_hex(trimmed)
        } else {
            PublicKey::from_base64(text)
        }
    }

    /// This key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The standard base64 of the 32 raw bytes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.key.as_bytes())
    }

    /// SPKI PEM, as `openssl pkey -pubin` reads it.
    pub fn to_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.key.as_bytes());
        // 44 bytes are 60 base64 characters: one line.
        format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", B64.encode(der))
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`
    /// (`verify_strict`). For messages that are not armored documents:
    /// the license server's response signatures.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.id, self.to_base64())
    }
}

/// The public keys a product trusts, by key id.
///
/// Several keys may be trusted at once, so a vendor can rotate: ship the new
/// key beside the old one, sign new files with the new key, drop the old one
/// in a later release.
///
/// A keyring may also trust Keygen account keys ([`Keyring::add_keygen`]),
/// each for one Keygen product. The two lists are apart: a Tessera key never
/// verifies a Keygen file, nor a Keygen key a Tessera file.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, PublicKey>,
    keygen: Vec<KeygenTrust>,
}

/// A Keygen account's Ed25519 verify key, trusted for the license and
/// machine files of one Keygen product, which this keyring's product reads
/// as its own (feature `keygen` reads the files; docs/MIGRATING.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeygenTrust {
    /// The account's verify key.
    pub key: PublicKey,
    /// The Keygen product's id (a UUID): files for another product of the
    /// same account do not become this product's licenses.
    pub keygen_product: String,
    /// The Tessera product code a file of that product is read as.
    pub product_code: String,
}

impl Keyring {
    /// An empty keyring (it verifies nothing).
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// A keyring holding `keys`.
    pub fn from_keys<I: IntoIterator<Item = PublicKey>>(keys: I) -> Keyring {
        let mut ring = Keyring::new();
        for key in keys {
            ring.add(key);
        }
        ring
    }

    /// Adds a key (a key already present is kept once).
    pub fn add(&mut self, key: PublicKey) -> &mut Self {
        self.keys.insert(key.id(), key);
        self
    }

    /// Removes the key with `id`, if present.
    pub fn remove(&mut self, id: KeyId) -> Option<PublicKey> {
        self.keys.remove(&id)
    }

    /// The key with `id`.
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.get(&id)
    }

    /// The trusted keys in key-id order.
    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.values()
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Trusts `key`, a Keygen account's verify key, for the files of the
    /// Keygen product `keygen_product`, read as licenses of the Tessera
    /// product `product_code`. The same key may be added for several
    /// products; adding the same triple twice keeps it once.
    pub fn add_keygen(
        &mut self,
        key: PublicKey,
        keygen_product: impl Into<String>,
        product_code: impl Into<String>,
    ) -> &mut Self {
        let trust = KeygenTrust {
            key,
            keygen_product: keygen_product.into(),
            product_code: product_code.into(),
        };
        if !self.keygen.contains(&trust) {
            self.keygen.push(trust);
        }
        self
    }

    /// The Keygen keys trusted, in the order they were added.
    pub fn keygen_keys(&self) -> &[KeygenTrust] {
        &self.keygen
    }
}

#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub use signing::SigningKey;

#[cfg(feature = "issuer")]
mod signing {
    use std::fmt;

    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    use ed25519_dalek::Signer as _;
    use zeroize::Zeroizing;

    use base64::Engine as _;

    use super::{KeyId, PublicKey, B64};
    use crate::error::{Error, Result};

    /// DER of OneAsymmetricKey v1 { version 0, AlgorithmIdentifier {
    /// id-Ed25519 (1.3.101.112) }, OCTET STRING { OCTET STRING (32 bytes) } }
    /// up to the 32-byte seed.
    const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    /// A vendor's Ed25519 signing key (feature `issuer`).
    ///
    /// Its `Debug` output shows only the key id; the secret is never printed.
    pub struct SigningKey {
        key: ed25519_dalek::SigningKey,
        public: PublicKey,
    }

    impl SigningKey {
        /// A fresh key from the operating system's random source.
        pub fn generate() -> Result<SigningKey> {
            let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
            SigningKey::from_dalek(key)
        }

        /// From a 32-byte seed. Meant for throwaway test keys only.
        pub fn from_seed(seed: &[u8; 32]) -> Result<SigningKey> {
            SigningKey::from_dalek(ed25519_dalek::SigningKey::from_bytes(seed))
        }

        /// From PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm ed25519` writes).
        pub fn from_pem(pem: &str) -> Result<SigningKey> {
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
                .map_err(|_| Error::InvalidKey("not an Ed25519 PKCS#8 PEM private key"))?;
            SigningKey::from_dalek(key)
        }

        fn from_dalek(key: ed25519_dalek::SigningKey) -> Result<SigningKey> {
            let public = PublicKey::from_bytes(key.verifying_key().as_bytes())?;
            Ok(SigningKey { key, public })
        }

        /// PKCS#8 PEM of the secret key, in memory that is wiped when dropped:
        /// version 1 (RFC 8410, the seed alone), what `openssl genpkey
        /// -algorithm ed25519` writes and what OpenSSL 3 and Python's
        /// `cryptography` read. (ed25519-dalek's encoder writes version 2,
        /// with the public key inside, which both refuse.)
        pub fn to_pem(&self) -> Result<Zeroizing<String>> {
            let mut der = Zeroizing::new([0u8; 48]);
            der[..16].copy_from_slice(&ED25519_PKCS8_V1_PREFIX);
            der[16..].copy_from_slice(self.key.as_bytes());
            // 48 bytes are 64 base64 characters: one line.
            let body = Zeroizing::new(B64.encode(&der[..]));
            Ok(Zeroizing::new(format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                body.as_str()
            )))
        }

        /// The matching public key.
        pub fn public_key(&self) -> &PublicKey {
            &self.public
        }

        /// The key id of the matching public key.
        pub fn id(&self) -> KeyId {
            self.public.id()
        }

        pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
            self.key.sign(message).to_bytes()
        }
    }

    impl fmt::Debug for SigningKey {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SigningKey({}, secret redacted)", self.public.id())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway test key written by `openssl genpkey -algorithm ed25519`
    /// (OpenSSL 3.0), and the public key `openssl pkey -pubout` derives.
    #[cfg(feature = "issuer")]
    const OPENSSL_TEST_ONLY_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILcEmNWtYpVuI4zz/sevlOVEdV8f5jF03Gh4qrH7JA3/
-----END PRIVATE KEY-----
";
    #[cfg(feature = "issuer")]
    const OPENSSL_TEST_ONLY_PUB: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAFAz/V1S0QsRQ2TJJb74P1xwIUogt9WvQ6j2CPeQY1sU=
-----END PUBLIC KEY-----
";

    #[cfg(feature = "issuer")]
    #[test]
    fn signing_keys_are_written_as_openssl_writes_them() {
        // Read from OpenSSL, written back byte for byte.
        let key = SigningKey::from_pem(OPENSSL_TEST_ONLY_KEY).unwrap();
        assert_eq!(key.public_key().to_pem(), OPENSSL_TEST_ONLY_PUB);
        assert_eq!(key.to_pem().unwrap().as_str(), OPENSSL_TEST_ONLY_KEY);
        // Round trip of a fresh key; and version 2 (with the public key,
        // what earlier releases wrote) is still read.
        let fresh = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(&fresh.to_pem().unwrap()).unwrap();
        assert_eq!(again.public_key(), fresh.public_key());
        let v2_test_only_key = "-----BEGIN PRIVATE KEY-----
MFECAQEwBQYDK2VwBCIEIBvd4ZF5jtHVhaVUIjYrRa4bXyjq+tfhwmBJiKuDJL9b
gSEAa3Sg0h2LEMW5OytvzBpW4uWeHLPKfaX9nw2FUqEpcbQ=
-----END PRIVATE KEY-----";
        assert!(SigningKey::from_pem(v2_test_only_key).is_ok());
    }

    #[test]
    fn keys_read_in_hex_as_keygen_shows_them() {
        let hex = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788";
        let key = PublicKey::parse(hex).unwrap();
        assert_eq!(hex::encode(key.to_bytes()), hex);
        assert_eq!(PublicKey::from_hex(&hex.to_uppercase()).unwrap(), key);
        // The same key in base64 and PEM reads the same.
        assert_eq!(PublicKey::parse(&key.to_base64()).unwrap(), key);
        assert_eq!(PublicKey::parse(&key.to_pem()).unwrap(), key);
        for bad in [&hex[..63], &format!("{hex}0")[..], &hex.replace('e', "g")] {
            assert_eq!(
                PublicKey::from_hex(bad),
                Err(Error::InvalidKey("public key is not 64 hex digits")),
                "{bad}"
            );
        }
        // A small-order point is refused in hex as in every other form.
        let weak = format!("01{}", "0".repeat(62));
        assert!(PublicKey::from_hex(&weak).is_err());
    }

    #[test]
    fn key_id_hex_round_trip_is_strict() {
        let id = KeyId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        assert_eq!(id.to_string(), "0123456789abcdef");
        assert_eq!(KeyId::from_hex("0123456789abcdef"), Some(id));
        assert_eq!(KeyId::from_hex("0123456789ABCDEF"), None);
        assert_eq!(KeyId::from_hex("0123456789abcde"), None);
        assert_eq!(KeyId::from_hex("0123456789abcdefa"), None);
        assert_eq!(KeyId::from_hex("0123456789abcdeg"), None);
    }

    #[test]
    fn weak_and_invalid_public_keys_are_refused() {
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(Error::InvalidKey(_))
        ));
        assert!(PublicKey::from_base64("not base64!").is_err());
        assert!(PublicKey::from_base64("AAAA").is_err());
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }

    /// The PEM that OpenSSL writes for an Ed25519 public key (RFC 8410 §10.1).
    const RFC8410_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
        -----END PUBLIC KEY-----\n";

    #[test]
    fn spki_pem_reads_what_openssl_writes_and_writes_it_back() {
        let key = PublicKey::from_pem(RFC8410_PEM).unwrap();
        assert_eq!(key.to_bytes()[..4], [0x19, 0xbf, 0x44, 0x09]);
        assert_eq!(key.to_pem(), RFC8410_PEM.replace("        ", ""));
        // CRLF line ends and surrounding blank lines are fine.
        let crlf = format!("\r\n{}\r\n", key.to_pem().replace('\n', "\r\n"));
        assert_eq!(PublicKey::parse(&crlf).unwrap(), key);
    }

    #[cfg(feature = "issuer")]
    #[test]
    fn spki_pem_matches_the_pkcs8_crate() {
        use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let theirs = key
            .public_key()
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert_eq!(key.public_key().to_pem(), theirs);
    }

    #[test]
    fn spki_pem_refuses_anything_but_an_ed25519_key() {
        let key = PublicKey::from_pem(RFC8410_PEM).unwrap();
        let der = |bytes: &[u8]| {
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                B64.encode(bytes)
            )
        };
        let mut good = ED25519_SPKI_PREFIX.to_vec();
        good.extend_from_slice(&key.to_bytes());
        assert_eq!(PublicKey::from_pem(&der(&good)).unwrap(), key);
        // X25519's OID (1.3.101.110), a trailing byte, a short key, no footer,
        // a private key label.
        let mut x25519 = good.clone();
        x25519[8] = 0x6e;
        let mut long = good.clone();
        long.push(0);
        for bad in [
            der(&x25519),
            der(&long),
            der(&good[..43]),
            der(&good).replace("-----END PUBLIC KEY-----\n", ""),
            der(&good).replace("PUBLIC", "PRIVATE"),
        ] {
            assert!(
                matches!(PublicKey::from_pem(&bad), Err(Error::InvalidKey(_))),
                "{bad}"
            );
        }
    }
}
