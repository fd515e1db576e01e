//! OpenID Connect rows as stored: clients, authorization codes and access tokens, with the scopes and
//! `amr` values they carry.

use serde::{Deserialize, Serialize};

use crate::UnixTime;
use crate::records::ids::ClientId;
use crate::secret::{constant_time_eq, token_digest};

/// A registered service provider (relying party).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Client {
    /// The `client_id`.
    pub client_id: ClientId,
    /// Shown to users ("Log på Demo Bank").
    pub name: String,
    /// SHA-256 of the client secret; `None` for a public client (PKCE required).
    #[serde(skip)]
    pub secret_digest: Option<String>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// When it was registered.
    pub created_at: UnixTime,
}

impl Client {
    /// Whether the client has a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret_digest.is_some()
    }

    /// Checks a presented secret in constant time.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_digest {
            Some(d) => constant_time_eq(d.as_bytes(), token_digest(presented).as_bytes()),
            None => false,
        }
    }

    /// Whether `uri` is exactly one of the registered redirect URIs.
    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }
}

/// The scopes granted: `openid` always, `profile` (name and user ID) when asked for. Written as OAuth
/// writes them: `openid` or `openid profile`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Scope {
    /// `profile` was granted.
    pub profile: bool,
}

impl Scope {
    /// The scopes of an authorization request's `scope`: `None` unless `openid` is among them; scopes we do
    /// not grant are left out.
    pub fn requested(scope: &str) -> Option<Scope> {
        let asked: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        asked.contains(&"openid").then(|| Scope { profile: asked.contains(&"profile") })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.profile { "openid profile" } else { "openid" })
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(s: String) -> Result<Scope, String> {
        Scope::requested(&s).filter(|p| p.to_string() == s).ok_or_else(|| format!("not a granted scope: {s:?}"))
    }
}

/// An RFC 8176 authentication method reference, as the ID token's `amr` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amr {
    /// A password.
    Pwd,
    /// A one-time key from the key card.
    Otp,
    /// A software-secured key: the key app's device key.
    Swk,
    /// More than one factor.
    Mfa,
    /// The app was unlocked with its code.
    Pin,
    /// The app was unlocked with a fingerprint.
    Fpt,
}

impl Amr {
    /// The RFC 8176 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Swk => "swk",
            Amr::Mfa => "mfa",
            Amr::Pin => "pin",
            Amr::Fpt => "fpt",
        }
    }
    /// Parses an RFC 8176 name we use.
    pub fn parse(s: &str) -> Option<Amr> {
        [Amr::Pwd, Amr::Otp, Amr::Swk, Amr::Mfa, Amr::Pin, Amr::Fpt].into_iter().find(|a| a.as_str() == s)
    }
}

/// An authorization code as stored (the code itself only as its digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    /// SHA-256 of the code.
    pub code_digest: String,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The user.
    pub sub: String,
    /// Granted scopes.
    pub scope: Scope,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// RFC 8176 methods.
    pub amr: Vec<Amr>,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the code stops working.
    pub expires_at: UnixTime,
    /// Whether it has been redeemed.
    pub used: bool,
}

/// An access token as stored (the token itself only as its digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    /// SHA-256 of the token.
    pub token_digest: String,
    /// The user.
    pub sub: String,
    /// The client.
    pub client_id: ClientId,
    /// Granted scopes.
    pub scope: Scope,
    /// The code it was issued for; revoked together if that code is replayed.
    pub code_digest: String,
    /// When it stops working.
    pub expires_at: UnixTime,
    /// Revoked early.
    pub revoked: bool,
}
