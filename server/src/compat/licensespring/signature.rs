//! LicenseSpring's response signature (issue 40): every answer of the
//! seed's API carries a `LicenseSignature` header, the base64 of an RSA
//! PKCS#1 v1.5 signature over SHA-256 of the body, which LicenseSpring's
//! own library checks (`verify_license_signature_v2`).
//!
//! The key is the vendor's, not LicenseSpring's: the library checks it
//! against a certificate chain the product is given (`FSSignatureVerifier`,
//! built for LicenseSpring's self-hosted floating server), leaf first, then
//! the intermediate, then the root. The server makes the key and the chain
//! on its first start and keeps them in a directory of their own
//! (docs/COMPAT.md); the admin API hands out the chain. Tessera's own
//! Ed25519 answer signature is untouched by this.

use std::path::Path;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

/// The private key's file in the directory (PKCS#8 PEM, RSA 2048).
pub(crate) const KEY_FILE: &str = "licensespring-signing-key.pem";
/// The chain's file: leaf, intermediate, root, as `FSSignatureVerifier`
/// reads them.
pub(crate) const CHAIN_FILE: &str = "licensespring-chain.pem";

/// The key that signs the seed's answers, and the chain that vouches for it.
pub(crate) struct AnswerSigner {
    key: RsaKeyPair,
    chain: String,
}

impl std::fmt::Debug for AnswerSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnswerSigner { .. }") // no key material in logs
    }
}

impl AnswerSigner {
    /// Reads the key and the chain from `dir`; when neither is there, makes
    /// both and writes them (the key readable by its owner only). One file
    /// without the other is refused, not replaced: a product may already
    /// trust that chain.
    pub(crate) fn load_or_create(dir: &Path) -> Result<AnswerSigner, String> {
        let key_path = dir.join(KEY_FILE);
        let chain_path = dir.join(CHAIN_FILE);
        match (key_path.exists(), chain_path.exists()) {
            (true, true) => {}
            (false, false) => {
                let (key_pem, chain) = make()?;
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                write_new(&key_path, key_pem.as_bytes(), true)?;
                if let Err(e) = write_new(&chain_path, chain.as_bytes(), false) {
                    // No key without its chain is left behind.
                    let _ = std::fs::remove_file(&key_path);
                    return Err(e);
                }
            }
            (true, false) => {
                return Err(format!(
                    "{} is there but {} is not: restore it, or remove both to make a new key and chain (products must then be given the new chain)",
                    key_path.display(),
                    chain_path.display()
                ))
            }
            (false, true) => {
                return Err(format!(
                    "{} is there but {} is not: restore it, or remove both to make a new key and chain (products must then be given the new chain)",
                    chain_path.display(),
                    key_path.display()
                ))
            }
        }
        let key_pem = std::fs::read_to_string(&key_path)
            .map_err(|e| format!("cannot read {}: {e}", key_path.display()))?;
        let chain = std::fs::read_to_string(&chain_path)
            .map_err(|e| format!("cannot read {}: {e}", chain_path.display()))?;
        AnswerSigner::from_pem(&key_pem, chain)
            .map_err(|e| format!("{} and {}: {e}", key_path.display(), chain_path.display()))
    }

    /// From a PKCS#8 PEM key and its chain; the chain's leaf must hold the
    /// key's public half.
    pub(crate) fn from_pem(key_pem: &str, chain: String) -> Result<AnswerSigner, String> {
        let der =
            pem_body(key_pem, "PRIVATE KEY").ok_or("the key is not a PKCS#8 PEM private key")?;
        let key = RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("the key is refused: {e}"))?;
        let leaf = pem_body(&chain, "CERTIFICATE").ok_or("the chain holds no certificate")?;
        if chain.matches("-----BEGIN CERTIFICATE-----").count() != 3 {
            return Err("the chain must hold three certificates: leaf, intermediate, root".into());
        }
        let public = ring::signature::KeyPair::public_key(&key).as_ref().to_vec();
        if !contains(&leaf, &public) {
            return Err("the chain's leaf certificate is not the key's".into());
        }
        Ok(AnswerSigner { key, chain })
    }

    /// The `LicenseSignature` header's value for `body`.
    pub(crate) fn sign(&self, body: &[u8]) -> Result<String, String> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                body,
                &mut signature,
            )
            .map_err(|_| "the answer could not be signed".to_owned())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }

    /// The chain (PEM: leaf, intermediate, root) a product verifies with.
    pub(crate) fn chain(&self) -> &str {
        &self.chain
    }
}

/// Marks the answers of LicenseSpring's routes: the server's last layer
/// ([`crate::http::sign_every_response`]), which writes the final bytes,
/// signs a marked answer's body with [`signature_header`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct LicenseSpringAnswer;

/// The layer on LicenseSpring's routes: marks each answer.
pub(crate) async fn mark_answers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut answer = next.run(request).await;
    answer.extensions_mut().insert(LicenseSpringAnswer);
    answer
}

/// The `LicenseSignature` header for a marked answer's final `body` (None:
/// not marked, or a server that signs none, as without the seeds).
pub(crate) fn signature_header(
    signer: Option<&AnswerSigner>,
    extensions: &axum::http::Extensions,
    body: &[u8],
) -> Option<axum::http::HeaderValue> {
    extensions.get::<LicenseSpringAnswer>()?;
    let signer = signer?;
    match signer.sign(body) {
        Ok(s) => axum::http::HeaderValue::from_str(&s).ok(),
        Err(e) => {
            eprintln!("tessera-server: LicenseSpring's answer signature: {e}");
            None
        }
    }
}

/// A new RSA 2048 key (PKCS#8 PEM) and its chain: a root and an
/// intermediate CA (ECDSA P-256, whose keys are dropped once they signed),
/// and the leaf certificate of the RSA key, valid for 25 years.
fn make() -> Result<(String, String), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
        PKCS_RSA_SHA256,
    };
    use rsa::pkcs8::EncodePrivateKey as _;
    let fail = |what: &'static str| move |e: rcgen::Error| format!("{what}: {e}");
    let rsa_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| format!("cannot make the RSA key: {e}"))?;
    let der = rsa_key
        .to_pkcs8_der()
        .map_err(|e| format!("cannot encode the RSA key: {e}"))?;
    let key_pem = to_pem("PRIVATE KEY", der.as_bytes());
    let year = chrono::Datelike::year(&chrono::Utc::now());
    let params = |name: &str, ca: bool| -> Result<CertificateParams, String> {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(fail("parameters"))?;
        p.distinguished_name.push(DnType::CommonName, name);
        p.distinguished_name
            .push(DnType::OrganizationName, "Tessera license server");
        p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
        p.not_after = rcgen::date_time_ymd(year + 25, 1, 1);
        if ca {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        Ok(p)
    };
    let root_key = KeyPair::generate().map_err(fail("root key"))?;
    let root = params("Tessera LicenseSpring root", true)?
        .self_signed(&root_key)
        .map_err(fail("root"))?;
    let middle_key = KeyPair::generate().map_err(fail("intermediate key"))?;
    let middle = params("Tessera LicenseSpring intermediate", true)?
        .signed_by(&middle_key, &root, &root_key)
        .map_err(fail("intermediate"))?;
    let leaf_key =
        KeyPair::from_pem_and_sign_algo(&key_pem, &PKCS_RSA_SHA256).map_err(fail("leaf key"))?;
    let leaf = params("Tessera LicenseSpring answers", false)?
        .signed_by(&leaf_key, &middle, &middle_key)
        .map_err(fail("leaf"))?;
    let chain = format!("{}{}{}", leaf.pem(), middle.pem(), root.pem());
    Ok((key_pem, chain))
}

/// Writes a file that must not exist yet, whole or not at all (a temporary
/// file renamed into place); `secret`: readable by its owner only.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), String> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let written = options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER of the first PEM block labelled `label`.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_signs_what_its_chain_verifies_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let signer = AnswerSigner::load_or_create(dir.path()).unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signer.sign(b"{\"a\":1}").unwrap())
            .unwrap();
        // The leaf's public key (PKCS#1 inside the certificate) verifies it.
        let public = ring::signature::KeyPair::public_key(&signer.key)
            .as_ref()
            .to_vec();
        let verify = |body: &[u8]| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &public,
            )
            .verify(body, &signature)
        };
        assert!(verify(b"{\"a\":1}").is_ok());
        assert!(verify(b"{\"a\":2}").is_err());
        assert_eq!(signer.chain().matches("BEGIN CERTIFICATE").count(), 3);
        // A restart reads the same key and chain.
        let again = AnswerSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(again.chain(), signer.chain());
        // One file without the other is refused, and nothing is replaced.
        std::fs::remove_file(dir.path().join(CHAIN_FILE)).unwrap();
        let err = AnswerSigner::load_or_create(dir.path()).unwrap_err();
        assert!(err.contains("remove both"), "{err}");
        assert!(!dir.path().join(CHAIN_FILE).exists());
        // Another key's chain is refused.
        let (_, other_chain) = make().unwrap();
        let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        let err = AnswerSigner::from_pem(&key, other_chain).unwrap_err();
        assert!(err.contains("not the key's"), "{err}");
        assert!(AnswerSigner::from_pem("nonsense", String::new()).is_err());
    }
}
