//! Registry bearer tokens: signing keys, the libtrust key id, and the [`TokenIssuer`].
//!
//! Tokens follow the Distribution token specification as registry 2.8 and 3.x verify them:
//! `typ: JWT`, `alg` RS256 or ES256, a libtrust-format `kid` (2.8 looks keys up by it) and,
//! when a certificate is configured, an `x5c` chain (3.x and 2.8 both verify it against their
//! `rootcertbundle` before looking at `kid`). `aud` is a plain string, as 2.8 requires. 3.x
//! does not compute libtrust ids: without `x5c` it finds the key in the JWKS file
//! [`crate::jwks`] writes, where it is listed under the same `kid`.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use chrono::{DateTime, Utc};
use data_encoding::{BASE32_NOPAD, BASE64, BASE64URL_NOPAD, HEXLOWER};
use portus_core::access::GrantedAccess;
use serde::Serialize;

use crate::{Error, Result};

/// JWT signature algorithm, chosen by the key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA keys).
    Rs256,
    /// ECDSA P-256 with SHA-256 (EC P-256 keys).
    Es256,
}

impl SigningAlgorithm {
    fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            SigningAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            SigningAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::Es256 => "ES256",
        })
    }
}

enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key with its public-key identity and optional certificate chain.
pub struct SigningKey {
    material: KeyMaterial,
    algorithm: SigningAlgorithm,
    spki_der: Vec<u8>,
    kid: String,
    certificate_chain: Vec<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .field("certificates", &self.certificate_chain.len())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads an unencrypted private key from PEM: RSA (PKCS#1 `RSA PRIVATE KEY` or PKCS#8) gives
    /// RS256, EC P-256 (SEC1 `EC PRIVATE KEY` or PKCS#8) gives ES256.
    pub fn from_pem(pem_text: &str) -> Result<Self> {
        let blocks = pem::parse_many(pem_text).map_err(|e| Error::Key(format!("not a PEM file: {e}")))?;
        let block = blocks
            .iter()
            .find(|b| b.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| Error::Key("no PRIVATE KEY block in the PEM data".into()))?;
        let der = block.contents();
        let material = match block.tag() {
            "ENCRYPTED PRIVATE KEY" => return Err(Error::Key("encrypted private keys are not supported".into())),
            "RSA PRIVATE KEY" => KeyMaterial::Rsa(
                RsaKeyPair::from_der(der).map_err(|e| Error::Key(format!("invalid RSA private key: {e}")))?,
            ),
            "EC PRIVATE KEY" => KeyMaterial::Ec(ec_key(der)?),
            "PRIVATE KEY" => match RsaKeyPair::from_pkcs8(der) {
                Ok(rsa) => KeyMaterial::Rsa(rsa),
                Err(_) => KeyMaterial::Ec(ec_key(der)?),
            },
            other => return Err(Error::Key(format!("unsupported PEM block '{other}'"))),
        };
        let (algorithm, spki) = match &material {
            KeyMaterial::Rsa(k) => (
                SigningAlgorithm::Rs256,
                k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            ),
            KeyMaterial::Ec(k) => (
                SigningAlgorithm::Es256,
                k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            ),
        };
        let spki_der = spki.map_err(|_| Error::Key("cannot encode the public key".into()))?;
        Ok(SigningKey {
            kid: libtrust_key_id(&spki_der),
            material,
            algorithm,
            spki_der,
            certificate_chain: Vec::new(),
        })
    }

    /// Reads [`SigningKey::from_pem`] from a file.
    pub fn from_pem_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        Self::from_pem(&text).map_err(|e| match e {
            Error::Key(msg) => Error::Key(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// Attaches the certificate chain (leaf first) sent as `x5c`. The leaf must certify this
    /// key.
    pub fn with_certificate_chain_pem(mut self, pem_text: &str) -> Result<Self> {
        let chain: Vec<Vec<u8>> = pem::parse_many(pem_text)
            .map_err(|e| Error::Key(format!("certificate file is not PEM: {e}")))?
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| b.into_contents())
            .collect();
        let leaf = chain
            .first()
            .ok_or_else(|| Error::Key("no CERTIFICATE block in the PEM data".into()))?;
        // The leaf's DER embeds its SubjectPublicKeyInfo verbatim, so containment proves the
        // certificate is for this key without an X.509 parser.
        if !leaf.windows(self.spki_der.len()).any(|w| w == self.spki_der.as_slice()) {
            return Err(Error::Key(
                "the first certificate does not match the signing key".into(),
            ));
        }
        self.certificate_chain = chain;
        Ok(self)
    }

    /// The signature algorithm this key produces.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The libtrust key id (`kid`) of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The public key as a PEM `PUBLIC KEY` block.
    pub fn public_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.spki_der.clone()))
    }

    /// The attached certificate chain (DER, leaf first); empty when none was configured.
    pub fn certificate_chain(&self) -> &[Vec<u8>] {
        &self.certificate_chain
    }

    /// Signs `message`, returning the raw JWS signature (PKCS#1 v1.5, or fixed-size r‖s).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.material {
            KeyMaterial::Ec(key) => key
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Signing),
            KeyMaterial::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| Error::Signing)?;
                Ok(signature)
            }
        }
    }
}

fn ec_key(der: &[u8]) -> Result<EcdsaKeyPair> {
    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
        .map_err(|_| Error::Key("unsupported private key: expected RSA or EC P-256".into()))
}

/// The libtrust key id registry 2.8 expects in `kid`: SHA-256 of the DER SubjectPublicKeyInfo,
/// first 240 bits, base32 (no padding), in 12 colon-separated groups of four.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let encoded = BASE32_NOPAD.encode(&digest.as_ref()[..30]);
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The registry's `rootcertbundle` for several keys: the CERTIFICATE blocks of each PEM text,
/// in order, each once. During a key rotation the registry must trust the new key and, until
/// the last token it signed expires, the old one; it picks the key by `kid` (or `x5c`).
pub fn certificate_bundle_pem(pem_texts: &[(&str, &str)]) -> Result<String> {
    let mut blocks: Vec<pem::Pem> = Vec::new();
    for (origin, text) in pem_texts {
        let certificates: Vec<pem::Pem> = pem::parse_many(text)
            .map_err(|e| Error::Key(format!("{origin}: not PEM: {e}")))?
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .collect();
        if certificates.is_empty() {
            return Err(Error::Key(format!("{origin}: no CERTIFICATE block")));
        }
        for certificate in certificates {
            if !blocks.iter().any(|b| b.contents() == certificate.contents()) {
                blocks.push(certificate);
            }
        }
    }
    Ok(pem::encode_many(&blocks))
}

/// Generates a new private key and a self-signed certificate for it, both as PEM.
pub fn generate_key_and_certificate(algorithm: SigningAlgorithm, common_name: &str) -> Result<(String, String)> {
    let key_pair = match algorithm {
        SigningAlgorithm::Es256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        SigningAlgorithm::Rs256 => rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048),
    }
    .map_err(|e| Error::Key(format!("key generation failed: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let certificate = params
        .self_signed(&key_pair)
        .map_err(|e| Error::Key(format!("certificate generation failed: {e}")))?;
    Ok((key_pair.serialize_pem(), certificate.pem()))
}

/// A signed token and its timing, as the token endpoint returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Issue time.
    pub issued_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: &'a [GrantedAccess],
}

/// Signs registry bearer tokens with one key.
#[derive(Debug)]
pub struct TokenIssuer {
    key: SigningKey,
    issuer: String,
    lifetime: Duration,
    encoded_header: String,
    include_x5c: bool,
}

/// How far `nbf` lies before `iat`, for clock skew between us and the registry.
const NOT_BEFORE_SKEW_SECS: i64 = 5;

impl TokenIssuer {
    /// An issuer signing with `key`, naming itself `issuer` (the registry's
    /// `auth.token.issuer`), with tokens valid for `lifetime` (at least 60 s, as clients
    /// assume). `include_x5c` sends the certificate chain in the header when the key has one.
    pub fn new(key: SigningKey, issuer: impl Into<String>, lifetime: Duration, include_x5c: bool) -> Result<Self> {
        if lifetime < Duration::from_secs(60) {
            return Err(Error::InvalidRequest(
                "token lifetime must be at least 60 seconds".into(),
            ));
        }
        let mut header = jsonwebtoken::Header::new(key.algorithm().jwt());
        header.kid = Some(key.kid().to_owned());
        let include_x5c = include_x5c && !key.certificate_chain().is_empty();
        if include_x5c {
            header.x5c = Some(key.certificate_chain().iter().map(|der| BASE64.encode(der)).collect());
        }
        // The header is the same for every token of this key: encode it once.
        let header_json = serde_json::to_vec(&header).map_err(|_| Error::Signing)?;
        Ok(TokenIssuer {
            encoded_header: BASE64URL_NOPAD.encode(&header_json),
            key,
            issuer: issuer.into(),
            lifetime,
            include_x5c,
        })
    }

    /// The signing key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether tokens carry `x5c`.
    pub fn includes_x5c(&self) -> bool {
        self.include_x5c
    }

    /// Signs a token for `subject` (empty for anonymous) and `audience` granting `access`.
    pub fn issue(&self, subject: &str, audience: &str, access: &[GrantedAccess]) -> Result<IssuedToken> {
        let issued_at = Utc::now();
        let iat = issued_at.timestamp();
        let lifetime = self.lifetime.as_secs();
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti).map_err(|_| Error::Signing)?;
        let claims = Claims {
            iss: &self.issuer,
            sub: subject,
            aud: audience,
            exp: iat + lifetime as i64,
            nbf: iat - NOT_BEFORE_SKEW_SECS,
            iat,
            jti: HEXLOWER.encode(&jti),
            access,
        };
        let claims_json = serde_json::to_vec(&claims).map_err(|_| Error::Signing)?;
        let mut token = String::with_capacity(self.encoded_header.len() + claims_json.len() * 4 / 3 + 400);
        token.push_str(&self.encoded_header);
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&claims_json));
        let signature = self.key.sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(&signature));
        Ok(IssuedToken {
            token,
            expires_in: lifetime,
            issued_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    const EC_SEC1: &str = include_str!("../testdata/ec-sec1.key");
    const EC_PKCS8: &str = include_str!("../testdata/ec-pkcs8.key");
    const RSA_PKCS1: &str = include_str!("../testdata/rsa-pkcs1.key");
    const RSA_PKCS8: &str = include_str!("../testdata/rsa-pkcs8.key");
    const RSA_CERT: &str = include_str!("../testdata/rsa.crt");

    #[test]
    fn a_rotation_bundle_holds_each_certificate_once_in_order() {
        let (_, new_cert) = generate_key_and_certificate(SigningAlgorithm::Es256, "new").unwrap();
        let bundle = certificate_bundle_pem(&[("new", &new_cert), ("old", RSA_CERT), ("again", &new_cert)]).unwrap();
        let blocks = pem::parse_many(&bundle).unwrap();
        let expected: Vec<Vec<u8>> = [&new_cert, RSA_CERT]
            .iter()
            .map(|text| pem::parse(text.as_bytes()).unwrap().into_contents())
            .collect();
        assert_eq!(
            blocks.iter().map(|b| b.contents().to_vec()).collect::<Vec<_>>(),
            expected
        );
        let err = certificate_bundle_pem(&[("new", &new_cert), ("old.key", RSA_PKCS8)]).unwrap_err();
        assert!(err.to_string().contains("old.key: no CERTIFICATE block"), "{err}");
        let err = certificate_bundle_pem(&[("junk", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")])
            .unwrap_err();
        assert!(err.to_string().contains("junk: not PEM"), "{err}");
    }

    #[test]
    fn kid_matches_openssl_derived_value() {
        // Expected values were computed with `openssl pkey -pubout -outform DER` + Python.
        let ec = SigningKey::from_pem(EC_SEC1).unwrap();
        assert_eq!(ec.kid(), include_str!("../testdata/ec.kid").trim());
        assert_eq!(ec.algorithm(), SigningAlgorithm::Es256);
        let rsa = SigningKey::from_pem(RSA_PKCS1).unwrap();
        assert_eq!(rsa.kid(), include_str!("../testdata/rsa.kid").trim());
        assert_eq!(rsa.algorithm(), SigningAlgorithm::Rs256);
    }

    #[test]
    fn pkcs8_and_legacy_formats_give_the_same_key() {
        assert_eq!(
            SigningKey::from_pem(EC_PKCS8).unwrap().kid(),
            SigningKey::from_pem(EC_SEC1).unwrap().kid()
        );
        assert_eq!(
            SigningKey::from_pem(RSA_PKCS8).unwrap().kid(),
            SigningKey::from_pem(RSA_PKCS1).unwrap().kid()
        );
    }

    #[test]
    fn rejects_unsupported_keys_clearly() {
        let p384 = SigningKey::from_pem(include_str!("../testdata/ec-p384.key")).unwrap_err();
        assert!(p384.to_string().contains("expected RSA or EC P-256"), "{p384}");
        let not_pem = SigningKey::from_pem("hello").unwrap_err();
        assert!(not_pem.to_string().contains("no PRIVATE KEY"), "{not_pem}");
        let cert_only = SigningKey::from_pem(RSA_CERT).unwrap_err();
        assert!(cert_only.to_string().contains("no PRIVATE KEY"), "{cert_only}");
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(
            SigningKey::from_pem(encrypted)
                .unwrap_err()
                .to_string()
                .contains("encrypted")
        );
    }

    #[test]
    fn certificate_must_match_the_key() {
        let rsa = SigningKey::from_pem(RSA_PKCS1)
            .unwrap()
            .with_certificate_chain_pem(RSA_CERT)
            .unwrap();
        assert_eq!(rsa.certificate_chain().len(), 1);
        let err = SigningKey::from_pem(EC_SEC1)
            .unwrap()
            .with_certificate_chain_pem(RSA_CERT)
            .unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    fn verify(issuer: &TokenIssuer, token: &str) -> serde_json::Value {
        let key = issuer.key();
        let decoding = match key.algorithm() {
            SigningAlgorithm::Es256 => DecodingKey::from_ec_pem(key.public_key_pem().as_bytes()).unwrap(),
            SigningAlgorithm::Rs256 => DecodingKey::from_rsa_pem(key.public_key_pem().as_bytes()).unwrap(),
        };
        let mut validation = Validation::new(key.algorithm().jwt());
        validation.set_audience(&["registry.local"]);
        validation.set_issuer(&["portus.test"]);
        decode::<serde_json::Value>(token, &decoding, &validation)
            .expect("valid signature and claims")
            .claims
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_claims() {
        let access = vec![GrantedAccess {
            resource_type: "repository".into(),
            name: "alice/app".into(),
            actions: vec!["pull".into(), "push".into()],
        }];
        for (pem, cert) in [(EC_PKCS8, None), (RSA_PKCS1, Some(RSA_CERT))] {
            let mut key = SigningKey::from_pem(pem).unwrap();
            if let Some(cert) = cert {
                key = key.with_certificate_chain_pem(cert).unwrap();
            }
            let kid = key.kid().to_owned();
            let issuer = TokenIssuer::new(key, "portus.test", Duration::from_secs(600), true).unwrap();
            let issued = issuer.issue("alice", "registry.local", &access).unwrap();
            assert_eq!(issued.expires_in, 600);
            let claims = verify(&issuer, &issued.token);
            assert_eq!(claims["sub"], "alice");
            assert!(claims["aud"].is_string(), "aud must be a plain string");
            assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
            assert_eq!(claims["iat"].as_i64().unwrap() - claims["nbf"].as_i64().unwrap(), 5);
            assert_eq!(claims["access"][0]["type"], "repository");
            assert_eq!(claims["access"][0]["actions"], serde_json::json!(["pull", "push"]));
            assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
            let header = decode_header(&issued.token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
            assert_eq!(header.typ.as_deref(), Some("JWT"));
            assert_eq!(header.x5c.is_some(), cert.is_some());
            let other = issuer.issue("alice", "registry.local", &access).unwrap();
            assert_ne!(
                verify(&issuer, &other.token)["jti"],
                claims["jti"],
                "jti must be unique"
            );
        }
    }

    #[test]
    fn generated_keys_load_and_match_their_certificates() {
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let (key_pem, cert_pem) = generate_key_and_certificate(algorithm, "portus").unwrap();
            let key = SigningKey::from_pem(&key_pem)
                .unwrap()
                .with_certificate_chain_pem(&cert_pem)
                .unwrap();
            assert_eq!(key.algorithm(), algorithm);
        }
    }

    #[test]
    fn lifetime_below_a_minute_is_rejected() {
        let key = SigningKey::from_pem(EC_PKCS8).unwrap();
        assert!(TokenIssuer::new(key, "x", Duration::from_secs(30), false).is_err());
    }
}
