//! Sticky A/B assignment: a contact's arm is a pure function of its phone number and the
//! configured weights.
//!
//! The seed hashed the contact id with a Java-style string hash into 100 buckets (§11.3); its
//! distribution on near-identical ids is poor and it ignored every weight but Grok's. Here the
//! number's digits (so `+62 812-3456` and `628123456` agree) go through SHA-256, whose first
//! 8 bytes pick one of [`BUCKETS`] buckets; arms own consecutive bucket ranges in config order,
//! proportional to their weights. Changing one weight moves only the contacts at the edges of
//! the ranges; adding or reordering arms reshuffles more, so treat that as a new experiment.

use sha2::{Digest, Sha256};

/// Bucket resolution: 0.01 % per bucket.
pub const BUCKETS: u64 = 10_000;

/// The bucket (0..[`BUCKETS`]) of a contact number. Only the digits count.
pub fn bucket(contact: &str) -> u64 {
    let digits: String = contact.chars().filter(char::is_ascii_digit).collect();
    let hash = Sha256::digest(digits.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(first) % BUCKETS
}

/// Index of the arm for `contact` among `weights` (config order). `None` when there are no
/// arms or all weights are 0 (validation forbids both).
pub fn assign(contact: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let b = bucket(contact);
    let mut upper = 0u64;
    let mut cumulative = 0u64;
    for (i, w) in weights.iter().enumerate() {
        cumulative += u64::from(*w);
        // Arm i owns buckets [previous upper, cumulative/total * BUCKETS).
        upper = cumulative * BUCKETS / total;
        if b < upper && *w > 0 {
            return Some(i);
        }
    }
    debug_assert_eq!(upper, BUCKETS);
    weights.iter().rposition(|w| *w > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_count() {
        assert_eq!(bucket("+62 812-3456-7890"), bucket("6281234567890"));
        assert!(bucket("+6281234567890") < BUCKETS);
    }

    #[test]
    fn one_arm_takes_everyone_and_zero_weights_nobody() {
        assert_eq!(assign("+6281234567890", &[7]), Some(0));
        assert_eq!(assign("+6281234567890", &[]), None);
        assert_eq!(assign("+6281234567890", &[0, 0]), None);
        for n in 0..200 {
            assert_eq!(assign(&format!("+62812{n:07}"), &[0, 5]), Some(1));
        }
    }
}
