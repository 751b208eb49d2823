//! Kapso's webhook signature: `X-Webhook-Signature` is the hex HMAC-SHA256 of the raw request
//! body, keyed with the webhook's secret (seed §13.1; the old processor read the wrong header).
//!
//! The check runs over the raw bytes before any parsing: re-serialising the JSON would change
//! key order, whitespace or escapes and break the signature. Up to two secrets are accepted so a
//! secret can be rotated without downtime (configure new and old, switch Kapso, drop the old).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The webhook secrets in force: the current one and, during a rotation, the previous one.
#[derive(Clone)]
pub struct WebhookSecrets(Vec<Vec<u8>>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} redacted)", self.0.len())
    }
}

/// Why a secrets setting was refused at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    #[error("ARI_WEBHOOK_SECRET is empty")]
    Empty,
    #[error(
        "ARI_WEBHOOK_SECRET holds {0} values; give one secret, or two (new,old) while rotating"
    )]
    TooMany(usize),
}

impl WebhookSecrets {
    /// Parses `ARI_WEBHOOK_SECRET`: one secret, or two separated by a comma. Surrounding
    /// whitespace is trimmed; empty values are refused.
    pub fn parse(value: &str) -> Result<Self, SecretsError> {
        let secrets: Vec<Vec<u8>> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        match secrets.len() {
            0 => Err(SecretsError::Empty),
            1 | 2 => Ok(WebhookSecrets(secrets)),
            n => Err(SecretsError::TooMany(n)),
        }
    }

    /// Whether `signature_hex` (case-insensitive hex, an optional `sha256=` prefix tolerated)
    /// is the HMAC-SHA256 of `body` under any of the secrets. The comparison is constant-time
    /// (`Mac::verify_slice`); malformed hex is simply not a match.
    pub fn verify(&self, body: &[u8], signature_hex: &str) -> bool {
        let sig = signature_hex.trim();
        let sig = sig.strip_prefix("sha256=").unwrap_or(sig);
        let Ok(expected) = hex::decode(sig) else {
            return false;
        };
        self.0.iter().any(|secret| {
            let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
    }
}

/// The lowercase hex HMAC-SHA256 of `body` under `secret`, exactly as Kapso signs a delivery.
/// Used by `ari send-webhook` and the tests.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rotation_accepts_either_secret_and_nothing_else() {
        let secrets = WebhookSecrets::parse("new-secret, old-secret").unwrap();
        let body = br#"{"a":1}"#;
        assert!(secrets.verify(body, &sign(b"new-secret", body)));
        assert!(secrets.verify(body, &sign(b"old-secret", body)));
        assert!(!secrets.verify(body, &sign(b"other", body)));
    }

    #[test]
    fn case_and_prefix_tolerated_garbage_refused() {
        let secrets = WebhookSecrets::parse("s").unwrap();
        let body = b"{}";
        let sig = sign(b"s", body);
        assert!(secrets.verify(body, &sig.to_uppercase()));
        assert!(secrets.verify(body, &format!("sha256={sig}")));
        assert!(!secrets.verify(body, "zz"));
        assert!(!secrets.verify(body, ""));
        assert!(!secrets.verify(body, &sig[..32]));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            WebhookSecrets::parse(" , ").unwrap_err(),
            SecretsError::Empty
        );
        assert_eq!(
            WebhookSecrets::parse("a,b,c").unwrap_err(),
            SecretsError::TooMany(3)
        );
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(secret in "[ -~]{1,40}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assume!(!secret.contains(',') && !secret.trim().is_empty());
            let secrets = WebhookSecrets::parse(&secret).unwrap();
            prop_assert!(secrets.verify(&body, &sign(secret.trim().as_bytes(), &body)));
        }

        #[test]
        fn a_flipped_byte_fails(body in proptest::collection::vec(any::<u8>(), 1..200), idx in any::<prop::sample::Index>()) {
            let secrets = WebhookSecrets::parse("k").unwrap();
            let sig = sign(b"k", &body);
            let mut tampered = body.clone();
            let i = idx.index(tampered.len());
            tampered[i] ^= 0x01;
            prop_assert!(!secrets.verify(&tampered, &sig));
        }
    }
}
