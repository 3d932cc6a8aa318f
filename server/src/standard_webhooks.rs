//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the
//! receiver's existing library verifies what the portal sends. A secret is
//! `whsec_` + base64 of at least 24 random bytes; the signature is
//! `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), several
//! space-separated while a secret is rotated.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret is whsec_ followed by base64")]
    Malformed,
}

fn key(secret: &str) -> Result<Vec<u8>, SecretError> {
    B64.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).map_err(|_| SecretError::Malformed)
}

/// The `v1,…` signature of one message under one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).map_err(|_| SecretError::Malformed)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per secret in force.
pub fn signature_header(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> Result<String, SecretError> {
    let all: Result<Vec<String>, SecretError> = secrets.iter().map(|s| sign(s, id, timestamp, body)).collect();
    Ok(all?.join(" "))
}

/// Whether any `v1` signature in `header` is right for `secret`
/// (constant-time compare), as a receiver checks it.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(expected) = sign(secret, id, timestamp, body) else { return false };
    header.split(' ').any(|candidate| {
        use subtle::ConstantTimeEq;
        candidate.len() == expected.len() && bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The specification's published vector: a receiver's library
        // accepts exactly this.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_both_and_either_verifies() {
        use app::ssr::channels::new_secret;
        let (old, new) = (new_secret(), new_secret());
        assert!(new.starts_with(PREFIX) && new.len() > 40);
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 10, b"{}").unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(verify(&old, "msg_1", 10, b"{}", &header));
        assert!(verify(&new, "msg_1", 10, b"{}", &header));
        assert!(!verify(&new_secret(), "msg_1", 10, b"{}", &header));
        assert!(!verify(&new, "msg_1", 11, b"{}", &header), "the timestamp is signed");
        assert_eq!(sign("whsec_!!!", "m", 1, b"").unwrap_err(), SecretError::Malformed);
    }
}
