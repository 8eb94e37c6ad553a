//! Tokens: issued by the service (HS256) or by an external identity provider whose public
//! keys are configured (RS256 or EdDSA, chosen by `kid`). Verification pins the algorithm
//! and checks `exp`, `nbf`, `iss` and `aud`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::user::Role;
use crate::error::ApiError;

/// An access token authorises API calls; a refresh token only renews them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of a token issued by this service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// Absent in external tokens: they are access tokens.
    #[serde(default = "access")]
    pub typ: TokenKind,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub agency: Option<AgencyCode>,
    /// The user's token generation: a password change or a disable bumps it.
    #[serde(default)]
    pub ver: Option<i32>,
    /// The session (one per login) the token belongs to: logging out or replaying a retired
    /// refresh token ends it, and every token of it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

fn access() -> TokenKind {
    TokenKind::Access
}

/// Who a verified token speaks for.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A user of this service, by id.
    Local { user_id: Uuid, claims: Claims },
    /// A user authenticated by the external identity provider, by user name.
    External { username: String },
}

struct ExternalKeys {
    validation_base: Validation,
    keys: HashMap<String, (Algorithm, DecodingKey)>,
}

/// The keys and rules of token issue and verification, built once at start-up.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    access_ttl: i64,
    refresh_ttl: i64,
    leeway: u64,
    external: Option<ExternalKeys>,
}

/// A pair of tokens as the login answers them.
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    /// The refresh token's id (`jti`): the one its session honours next.
    pub refresh_id: Uuid,
    /// When the refresh token expires.
    pub refresh_expires_at: DateTime<Utc>,
}

/// Who a pair of tokens is for, and in which session.
pub struct TokenSubject {
    pub user_id: Uuid,
    pub role: Role,
    pub agency: Option<AgencyCode>,
    pub token_version: i32,
    pub session_id: Uuid,
}

fn invalid_token() -> ApiError {
    ApiError::from(ErrorCode::InvalidToken)
}

impl Keys {
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Keys> {
        let secret = settings.secret.expose_secret().as_bytes();
        let external = match &settings.external {
            None => None,
            Some(ext) => {
                let mut keys = HashMap::new();
                for k in &ext.keys {
                    let (alg, key) = match k.algorithm.as_str() {
                        "RS256" => (
                            Algorithm::RS256,
                            DecodingKey::from_rsa_pem(k.public_key_pem.as_bytes())?,
                        ),
                        "EdDSA" => (
                            Algorithm::EdDSA,
                            DecodingKey::from_ed_pem(k.public_key_pem.as_bytes())?,
                        ),
                        other => anyhow::bail!(
                            "external key {}: algorithm {other} is not RS256 or EdDSA",
                            k.kid
                        ),
                    };
                    keys.insert(k.kid.clone(), (alg, key));
                }
                let mut v = Validation::new(Algorithm::RS256);
                v.set_issuer(&[&ext.issuer]);
                v.set_audience(&[&ext.audience]);
                v.validate_nbf = true;
                v.leeway = settings.leeway_secs;
                v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
                Some(ExternalKeys {
                    validation_base: v,
                    keys,
                })
            }
        };
        Ok(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl: settings.access_token_ttl_secs,
            refresh_ttl: settings.refresh_token_ttl_secs,
            leeway: settings.leeway_secs,
            external,
        })
    }

    fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// Issue an access and a refresh token of a session.
    pub fn issue(&self, who: &TokenSubject, now: DateTime<Utc>) -> anyhow::Result<IssuedTokens> {
        let base = |typ: TokenKind, ttl: i64, jti: Uuid| Claims {
            sub: who.user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now.timestamp() + ttl,
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: jti.to_string(),
            typ,
            role: Some(who.role),
            agency: who.agency,
            ver: Some(who.token_version),
            sid: Some(who.session_id),
        };
        let refresh_id = Uuid::new_v4();
        Ok(IssuedTokens {
            access_token: self.sign(&base(TokenKind::Access, self.access_ttl, Uuid::new_v4()))?,
            refresh_token: self.sign(&base(TokenKind::Refresh, self.refresh_ttl, refresh_id))?,
            expires_in: self.access_ttl,
            refresh_id,
            refresh_expires_at: DateTime::from_timestamp(now.timestamp() + self.refresh_ttl, 0)
                .unwrap_or(now),
        })
    }

    /// Verify a token of the expected kind; the caller still checks the user's state.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Subject, ApiError> {
        let header = decode_header(token).map_err(|_| invalid_token())?;
        if header.alg == Algorithm::HS256 {
            let mut v = Validation::new(Algorithm::HS256);
            v.set_issuer(&[&self.issuer]);
            v.set_audience(&[&self.audience]);
            v.validate_nbf = true;
            v.leeway = self.leeway;
            v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            let data = decode::<Claims>(token, &self.decoding, &v).map_err(|_| invalid_token())?;
            if data.claims.typ != kind {
                return Err(invalid_token());
            }
            let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| invalid_token())?;
            return Ok(Subject::Local {
                user_id,
                claims: data.claims,
            });
        }
        let external = self.external.as_ref().ok_or_else(invalid_token)?;
        if kind != TokenKind::Access {
            return Err(invalid_token());
        }
        let kid = header.kid.ok_or_else(invalid_token)?;
        let (alg, key) = external.keys.get(&kid).ok_or_else(invalid_token)?;
        if header.alg != *alg {
            return Err(invalid_token());
        }
        let mut v = external.validation_base.clone();
        v.algorithms = vec![*alg];
        #[derive(Deserialize)]
        struct ExternalClaims {
            sub: String,
        }
        let data = decode::<ExternalClaims>(token, key, &v).map_err(|_| invalid_token())?;
        Ok(Subject::External {
            username: data.claims.sub,
        })
    }
}
