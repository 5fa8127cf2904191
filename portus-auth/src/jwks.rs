//! The registry's `auth.token.jwks` file: the public signing keys as a JSON Web Key Set, each
//! under the libtrust `kid` portus puts in its tokens.
//!
//! Distribution 3 no longer computes libtrust key ids: without `x5c` it finds the key by `kid`
//! among the rootcertbundle keys' RFC 7638 thumbprints and the `kid`s of its JWKS file, where
//! any string is accepted. Listing each key under its libtrust id makes the same tokens valid
//! for 2.8 (which ignores `jwks` and computes libtrust ids from the bundle) and 3.x, during key
//! rotations too.

use data_encoding::BASE64URL_NOPAD;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::token::libtrust_key_id;

/// OID 1.2.840.113549.1.1.1 (rsaEncryption), DER-encoded with tag and length.
const RSA_ENCRYPTION: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.2.840.10045.3.1.7 (prime256v1, P-256).
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER element: its tag, its content and the whole encoding (tag, length, content).
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// Splits the first DER element off `input`; the rest follows it.
fn element(input: &[u8]) -> Result<(Element<'_>, &[u8])> {
    let bad = || Error::Key("malformed DER in a certificate or public key".into());
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(bad());
        }
        let length = rest[..count].iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return Err(bad());
    }
    let header = input.len() - rest.len();
    Ok((
        Element {
            tag,
            content: &rest[..length],
            whole: &input[..header + length],
        },
        &rest[length..],
    ))
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (DER).
pub fn certificate_spki(certificate_der: &[u8]) -> Result<Vec<u8>> {
    let (certificate, _) = element(certificate_der)?;
    let (tbs, _) = element(certificate.content)?;
    let mut fields = tbs.content;
    let (first, rest) = element(fields)?;
    if first.tag == 0xa0 {
        // The explicit version ([0]) is there for v2/v3 certificates.
        fields = rest;
    }
    // serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
    for _ in 0..5 {
        fields = element(fields)?.1;
    }
    let (spki, _) = element(fields)?;
    if spki.tag != 0x30 {
        return Err(Error::Key("no public key in the certificate".into()));
    }
    Ok(spki.whole.to_vec())
}

/// A DER INTEGER's value without leading zero bytes, base64url (as JWK `n` and `e` want).
fn unsigned(integer: &Element<'_>) -> Result<String> {
    if integer.tag != 0x02 {
        return Err(Error::Key("malformed RSA public key".into()));
    }
    let start = integer
        .content
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(integer.content.len());
    Ok(BASE64URL_NOPAD.encode(&integer.content[start..]))
}

/// The public JWK of a DER SubjectPublicKeyInfo (RSA or EC P-256), with `kid` set to its
/// libtrust key id and `alg` to the algorithm portus signs with for it.
pub fn public_jwk(spki_der: &[u8]) -> Result<Value> {
    let (spki, _) = element(spki_der)?;
    let (algorithm, rest) = element(spki.content)?;
    let (bits, _) = element(rest)?;
    let key = match bits.content.split_first() {
        Some((0, key)) if bits.tag == 0x03 => key,
        _ => return Err(Error::Key("malformed public key".into())),
    };
    let (oid, parameters) = element(algorithm.content)?;
    let kid = libtrust_key_id(spki_der);
    if oid.whole == RSA_ENCRYPTION {
        let (sequence, _) = element(key)?;
        let (n, rest) = element(sequence.content)?;
        let (e, _) = element(rest)?;
        Ok(json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": unsigned(&n)?, "e": unsigned(&e)?}))
    } else if oid.whole == EC_PUBLIC_KEY && parameters == P256 {
        match key.split_first() {
            Some((4, point)) if point.len() == 64 => Ok(json!({
                "kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                "x": BASE64URL_NOPAD.encode(&point[..32]), "y": BASE64URL_NOPAD.encode(&point[32..]),
            })),
            _ => Err(Error::Key("malformed EC P-256 public key".into())),
        }
    } else {
        Err(Error::Key("unsupported public key: expected RSA or EC P-256".into()))
    }
}

/// The registry's `jwks` file for several certificate files (PEM, named for errors): the key
/// of each file's first certificate (the leaf), in order, each once.
pub fn jwks_json(pem_texts: &[(&str, &str)]) -> Result<String> {
    let mut keys: Vec<Value> = Vec::new();
    for (origin, text) in pem_texts {
        let leaf = pem::parse_many(text)
            .map_err(|e| Error::Key(format!("{origin}: not PEM: {e}")))?
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::Key(format!("{origin}: no CERTIFICATE block")))?;
        let jwk = certificate_spki(leaf.contents())
            .and_then(|spki| public_jwk(&spki))
            .map_err(|e| Error::Key(format!("{origin}: {e}")))?;
        if !keys.iter().any(|k| k["kid"] == jwk["kid"]) {
            keys.push(jwk);
        }
    }
    Ok(serde_json::to_string_pretty(&json!({ "keys": keys })).expect("JSON values serialize"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::token::{SigningAlgorithm, SigningKey, TokenIssuer, generate_key_and_certificate};

    /// A token portus signs without `x5c` verifies with the JWKS key its `kid` names, for both
    /// algorithms: the JWK carries the right public key under the right id.
    #[test]
    fn tokens_verify_with_the_jwks_key_their_kid_names() {
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::Rs256] {
            let (key_pem, cert_pem) = generate_key_and_certificate(algorithm, "jwks test").unwrap();
            let (_, other_cert) = generate_key_and_certificate(SigningAlgorithm::Es256, "other").unwrap();
            let key = SigningKey::from_pem(&key_pem).unwrap();
            assert_eq!(
                certificate_spki(&pem::parse(&cert_pem).unwrap().into_contents()).unwrap(),
                key.public_key_der()
            );
            let kid = key.kid().to_owned();
            let issuer = TokenIssuer::new(key, "portus", Duration::from_secs(300), false).unwrap();
            let token = issuer.issue("alice", "registry", &[]).unwrap().token;

            let text = jwks_json(&[
                ("other.crt", &other_cert),
                ("token.crt", &cert_pem),
                ("again", &cert_pem),
            ])
            .unwrap();
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text).unwrap();
            assert_eq!(set.keys.len(), 2, "each key once: {text}");
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
            assert!(header.x5c.is_none());
            let jwk = set.find(&kid).expect("the token's kid is in the set");
            let mut validation = jsonwebtoken::Validation::new(header.alg);
            validation.set_audience(&["registry"]);
            let decoding = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            let wrong = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
            assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
        }
    }

    /// RSA members are big-endian without the DER sign byte (RFC 7518 6.3.1): `e` is "AQAB".
    #[test]
    fn rsa_members_have_no_leading_zero() {
        let (_, cert_pem) = generate_key_and_certificate(SigningAlgorithm::Rs256, "rsa").unwrap();
        let text = jwks_json(&[("rsa.crt", &cert_pem)]).unwrap();
        let set: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(set["keys"][0]["e"], "AQAB");
        let n = BASE64URL_NOPAD
            .decode(set["keys"][0]["n"].as_str().unwrap().as_bytes())
            .unwrap();
        assert_eq!(n.len(), 256, "a 2048-bit modulus");
        assert_ne!(n[0], 0);
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert!(jwks_json(&[("empty", "")]).is_err());
        let key = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let error = jwks_json(&[("broken.crt", key)]).unwrap_err().to_string();
        assert!(error.contains("broken.crt"), "{error}");
    }
}
