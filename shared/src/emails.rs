//! How emails are compared. Registration, sign-in and the migration that
//! keys existing accounts all use [`key`], so that PostgreSQL's locale never
//! decides whether two spellings are one account.

use unicode_normalization::UnicodeNormalization;

/// The comparison key of an email: trimmed, NFKC-normalised (so that
/// compatibility characters such as the Kelvin sign `K` match their plain
/// letter), then lowercased with Unicode's full case mapping.
pub fn key(email: &str) -> String {
    email.trim().nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::key;

    #[test]
    fn keys_fold_case_and_compatibility_forms_beyond_ascii() {
        assert_eq!(key("  Chef@Example.COM "), "chef@example.com");
        assert_eq!(key("Émile@example.com"), key("émile@example.com"));
        // Decomposed (e + combining acute) and composed forms are one key.
        assert_eq!(key("E\u{301}mile@example.com"), key("émile@example.com"));
        assert_eq!(key("ΣΟΦΙΑΣ@example.com"), key("σοφιας@example.com"));
        assert_eq!(key("\u{212A}ate@example.com"), "kate@example.com");
        assert_eq!(key("İpek@example.com"), key("i\u{307}pek@example.com"));
        // Keys are stable: keying a key changes nothing.
        for email in ["Émile@x.co", "ΣΟΦΙΑΣ@x.co", "İpek@x.co", "\u{FB00}@x.co"] {
            assert_eq!(key(&key(email)), key(email), "{email}");
        }
    }
}
