//! Users: the user-ID rules and the stored user record.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

/// Shortest and longest user ID accepted.
pub const USER_ID_LEN: std::ops::RangeInclusive<usize> = 3..=32;

/// A user ID ("Bruger-id"): 3–32 characters of `a–z`, `0–9`, `.`, `-`, `_`, starting with a letter or digit.
/// User IDs are case-insensitive and kept in lower case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// Why a text is not a valid user ID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserIdError {
    /// Too short or too long.
    #[error("a user ID has 3 to 32 characters")]
    Length,
    /// A character outside the allowed set.
    #[error("a user ID may hold only the letters a-z, the digits 0-9 and . - _")]
    Character,
    /// Starts with punctuation.
    #[error("a user ID starts with a letter or a digit")]
    Start,
}

impl UserId {
    /// Parses and normalises (trims, lower-cases) a user ID.
    pub fn parse(input: &str) -> Result<UserId, UserIdError> {
        let s = input.trim().to_ascii_lowercase();
        if !USER_ID_LEN.contains(&s.chars().count()) {
            return Err(UserIdError::Length);
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')) {
            return Err(UserIdError::Character);
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(UserIdError::Start);
        }
        Ok(UserId(s))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UserId {
    type Error = UserIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        UserId::parse(&s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0
    }
}

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Stable, opaque subject identifier (the OIDC `sub`); never changes.
    pub sub: String,
    /// The log-in name.
    pub user_id: UserId,
    /// The name service providers are told.
    pub display_name: String,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// Blocked by support (`noegle user block`).
    pub blocked: bool,
    /// Consecutive failed attempts, across every factor and path.
    pub failed_attempts: i64,
    /// When the last failure happened.
    pub last_failure_at: Option<UnixTime>,
    /// When the user was created.
    pub created_at: UnixTime,
}

/// Longest display name accepted.
pub const DISPLAY_NAME_MAX: usize = 100;

/// Checks a display name: 1–100 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<String, &'static str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > DISPLAY_NAME_MAX {
        return Err("a name has 1 to 100 characters");
    }
    if name.chars().any(|c| c.is_control() || invisible(c)) {
        return Err("a name may not hold control characters or invisible marks");
    }
    Ok(name.to_string())
}

/// Characters that show nothing themselves but reorder or hide the text around them (bidirectional
/// overrides and isolates, zero-width marks): refused in names so that no name can pose as another.
pub fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_normalised_and_checked() {
        assert_eq!(UserId::parse(" Alice ").map(|u| u.0), Ok("alice".into()));
        assert_eq!(UserId::parse("ab"), Err(UserIdError::Length));
        assert_eq!(UserId::parse(&"a".repeat(33)), Err(UserIdError::Length));
        assert_eq!(UserId::parse("al ice"), Err(UserIdError::Character));
        assert_eq!(UserId::parse("ålice"), Err(UserIdError::Character));
        assert_eq!(UserId::parse(".alice"), Err(UserIdError::Start));
        assert!(UserId::parse("anne.marie-2_x").is_ok());
    }

    #[test]
    fn display_names_are_checked() {
        assert_eq!(validate_display_name(" Søren Kierkegaard "), Ok("Søren Kierkegaard".into()));
        assert!(validate_display_name("").is_err());
        assert!(validate_display_name("a\u{7}b").is_err());
    }
}
