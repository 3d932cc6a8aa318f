//! Apps' secrets at rest: each value sealed with XChaCha20-Poly1305 under the
//! portal's key (`EOD_SECRET_KEY`, or a key file made once in the data
//! directory), the secret's name bound in as associated data so a sealed
//! value cannot be moved to another name. Values are opened only by the
//! driver, to hand them to the environment's process.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::collections::BTreeMap;

/// 32 random bytes. Debug never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a secret key is 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("secret {0} cannot be opened with this portal's key (was EOD_SECRET_KEY changed?)")]
    CannotOpen(String),
}

impl SecretKey {
    pub fn from_hex(hex: &str) -> Result<SecretKey, SecretError> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(SecretError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(SecretError::BadKey)?, 16)
                .map_err(|_| SecretError::BadKey)?;
        }
        Ok(SecretKey(key))
    }

    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SecretKey(key)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// `base64(nonce ‖ ciphertext)` of `value`, bound to `name`.
    pub fn seal(&self, name: &str, value: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: name.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption of a bounded value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    pub fn open(&self, name: &str, sealed: &str) -> Result<String, SecretError> {
        let cannot = || SecretError::CannotOpen(name.to_string());
        let bytes = B64.decode(sealed).map_err(|_| cannot())?;
        if bytes.len() < 24 {
            return Err(cannot());
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: name.as_bytes() })
            .map_err(|_| cannot())?;
        String::from_utf8(plain).map_err(|_| cannot())
    }

    /// Every secret of an app's sealed map, opened (for the driver only).
    pub fn open_all(&self, sealed_json: &str) -> Result<BTreeMap<String, String>, SecretError> {
        let sealed: BTreeMap<String, String> = serde_json::from_str(sealed_json).unwrap_or_default();
        sealed.iter().map(|(name, v)| Ok((name.clone(), self.open(name, v)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_key_and_name() {
        let key = SecretKey::generate();
        let sealed = key.seal("STRIPE_KEY", "sk_live_123");
        assert!(!sealed.contains("sk_live_123"));
        assert_eq!(key.open("STRIPE_KEY", &sealed).unwrap(), "sk_live_123");
        assert_eq!(key.open("OTHER", &sealed), Err(SecretError::CannotOpen("OTHER".into())));
        assert!(SecretKey::generate().open("STRIPE_KEY", &sealed).is_err());
        assert_ne!(key.seal("A", "x"), key.seal("A", "x"), "a fresh nonce every time");
    }

    #[test]
    fn keys_are_64_hex_characters() {
        let key = SecretKey::generate();
        assert_eq!(SecretKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(SecretKey::from_hex("abc"), Err(SecretError::BadKey));
        assert_eq!(SecretKey::from_hex(&"zz".repeat(32)), Err(SecretError::BadKey));
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }
}
