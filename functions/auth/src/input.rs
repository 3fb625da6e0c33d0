//! Request input parsed into domain values at the edge: the handlers never
//! see raw strings. Each parser's error is the message for its field.

use std::str::FromStr;

/// A syntactically valid email, trimmed; compared case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim();
        if email.is_empty() {
            return Err("is required");
        }
        if email.chars().count() > 254 {
            return Err("must be at most 254 characters");
        }
        let valid = email_address::EmailAddress::from_str(email).is_ok()
            && email.rsplit_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('[')
                    && !domain.ends_with('.')
            });
        if !valid {
            return Err("is not a valid email address");
        }
        Ok(Self(email.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form accounts are compared and looked up by.
    pub fn key(&self) -> String {
        flux_shared::emails::key(&self.0)
    }
}

/// An email as typed at sign-in. Sign-in never explains the rules: anything
/// that cannot be a registered email is simply not looked up, and fails
/// like a wrong password.
#[derive(Clone, Debug)]
pub struct LoginEmail {
    /// What the throttle counts, whatever was typed.
    throttle_key: String,
    /// Whether it could be a registered email at all.
    plausible: bool,
}

impl LoginEmail {
    pub fn parse(raw: &str) -> Self {
        let key = flux_shared::emails::key(raw);
        // NUL, which PostgreSQL cannot store, is in no registered email;
        // nor is anything over the length limit.
        let plausible = !key.is_empty()
            && raw.trim().chars().count() <= 254
            && !key.chars().any(char::is_control);
        Self {
            throttle_key: key,
            plausible,
        }
    }

    /// The key to look the account up by, if it could be one.
    pub fn key(&self) -> Option<&str> {
        self.plausible.then_some(self.throttle_key.as_str())
    }

    pub fn throttle_key(&self) -> &str {
        &self.throttle_key
    }
}

/// A new password that meets the rules: 12..128 characters, not the email,
/// and not easy to guess (zxcvbn score ≥ 3).
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

impl NewPassword {
    pub fn parse(raw: &str, email: Option<&Email>, other_inputs: &[&str]) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < 12 {
            return Err("must be at least 12 characters".into());
        }
        if length > 128 {
            return Err("must be at most 128 characters".into());
        }
        if let Some(email) = email {
            if raw.trim().to_lowercase() == email.key() {
                return Err("must not be the email address".into());
            }
        }
        let mut inputs: Vec<&str> = other_inputs.to_vec();
        if let Some(email) = email {
            inputs.push(email.as_str());
            if let Some((local, _)) = email.as_str().split_once('@') {
                inputs.push(local);
            }
        }
        let estimate = zxcvbn::zxcvbn(raw, &inputs);
        if u8::from(estimate.score()) < 3 {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning().map(|w| w.to_string()))
                .filter(|w| !w.is_empty())
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Err(format!(
                "is too easy to guess{hint}; use a longer phrase of uncommon words"
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// 1..120 characters after trimming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestaurantName(String);

impl RestaurantName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        match name.chars().count() {
            0 => Err("must not be empty"),
            // Also what PostgreSQL cannot store (NUL).
            _ if name.chars().any(char::is_control) => Err("must not contain control characters"),
            1..=120 => Ok(Self(name.to_string())),
            _ => Err("must be at most 120 characters"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name, in its canonical spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone(String);

impl TimeZone {
    pub fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        match raw.map(str::trim) {
            None | Some("") => Ok(Self("UTC".into())),
            Some(name) => chrono_tz::Tz::from_str(name)
                .map(|tz| Self(tz.name().to_string()))
                .map_err(|_| "is not a known IANA time zone (for example Europe/Paris)"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_checked() {
        assert_eq!(
            Email::parse("  Chef@Example.COM ").unwrap().as_str(),
            "Chef@Example.COM"
        );
        assert_eq!(
            Email::parse("Chef@Example.COM").unwrap().key(),
            "chef@example.com"
        );
        for bad in [
            "",
            "chef",
            "chef@",
            "@example.com",
            "chef@example",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            Email::parse(&long).unwrap_err(),
            "must be at most 254 characters"
        );
    }

    #[test]
    fn passwords_follow_the_rules() {
        let email = Email::parse("chef@example.com").unwrap();
        assert!(NewPassword::parse("short", Some(&email), &[])
            .unwrap_err()
            .contains("12"));
        assert!(NewPassword::parse(&"x".repeat(129), Some(&email), &[])
            .unwrap_err()
            .contains("128"));
        assert!(NewPassword::parse("password1234", Some(&email), &[])
            .unwrap_err()
            .contains("too easy"));
        assert!(NewPassword::parse("chef@example.com", Some(&email), &[])
            .unwrap_err()
            .contains("email"));
        assert!(NewPassword::parse("violet-otter-juggles-42-plums", Some(&email), &[]).is_ok());
        // Characters, not bytes: 12 accented letters are enough length.
        let twelve = NewPassword::parse("éàüöçñøåßðþæ", None, &[]);
        assert!(
            !matches!(twelve, Err(ref e) if e.contains("12")),
            "{twelve:?}"
        );
        let eleven = NewPassword::parse("éàüöçñøåßðþ", None, &[]).unwrap_err();
        assert!(eleven.contains("12"), "{eleven}");
    }

    #[test]
    fn time_zones_default_to_utc_and_must_exist() {
        assert_eq!(TimeZone::parse(None).unwrap().as_str(), "UTC");
        assert_eq!(
            TimeZone::parse(Some("Europe/Paris")).unwrap().as_str(),
            "Europe/Paris"
        );
        assert!(TimeZone::parse(Some("Mars/Olympus")).is_err());
        assert!(RestaurantName::parse("   ").is_err());
        assert!(RestaurantName::parse("Chez\0Flux").is_err());
        assert!(RestaurantName::parse("Chez\nFlux").is_err());
        assert_eq!(
            RestaurantName::parse(" Chez Flux ").unwrap().as_str(),
            "Chez Flux"
        );
    }
}
