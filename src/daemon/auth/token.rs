//! Access tokens: JWTs signed with HMAC-SHA256. Validation takes the time as an
//! argument, so that expiry is decided by the caller's clock (and tests' clocks).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::model::Role;

/// The `iss` of every token this daemon signs.
pub const ISSUER: &str = "uptimeping";

/// An access token's claims, as the brief lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user's id.
    pub sub: String,
    pub email: String,
    /// The tenant's id.
    pub tenant: i64,
    pub tenant_name: String,
    pub roles: Vec<Role>,
    pub permissions: Vec<String>,
    /// The session the token belongs to; it stops working when the session ends.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    /// The highest role the token names.
    pub fn role(&self) -> Role {
        self.roles.iter().copied().max().unwrap_or(Role::Viewer)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Well signed, but its `exp` has passed.
    Expired,
    /// Not a token of this daemon's key, or malformed.
    Invalid,
}

/// Signs and checks tokens with one key.
pub struct Signer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Signer {
    pub fn new(key: &[u8]) -> Result<Signer, String> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the caller's clock below, not the crate's.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[ISSUER]);
        let bad = |e: jsonwebtoken::errors::Error| format!("the signing key cannot be used: {e}");
        Ok(Signer {
            encoding: EncodingKey::from_secret(key).map_err(bad)?,
            decoding: DecodingKey::from_secret(key).map_err(bad)?,
            validation,
        })
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| format!("cannot sign the access token: {e}"))
    }

    /// The claims of `token` if it is signed with this key and unexpired at
    /// `now_secs` (Unix seconds).
    pub fn check(&self, token: &str, now_secs: i64) -> Result<Claims, Refused> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Refused::Invalid)?;
        if data.claims.exp <= now_secs {
            return Err(Refused::Expired);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "7".into(),
            email: "a@example.com".into(),
            tenant: 1,
            tenant_name: "default".into(),
            roles: vec![Role::Operator],
            permissions: Role::Operator.permissions(),
            sid: "s1".into(),
            iat,
            exp,
        }
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    #[test]
    fn a_token_works_until_its_expiry_by_the_given_clock() {
        let s = Signer::new(KEY).expect("key");
        let t = s.sign(&claims(1_000, 1_900)).expect("sign");
        assert_eq!(s.check(&t, 1_000).expect("fresh"), claims(1_000, 1_900));
        assert!(s.check(&t, 1_899).is_ok());
        assert_eq!(s.check(&t, 1_900), Err(Refused::Expired));
        assert_eq!(s.check(&t, 99_999), Err(Refused::Expired));
    }

    #[test]
    fn another_key_or_issuer_or_algorithm_is_invalid_not_expired() {
        let s = Signer::new(KEY).expect("key");
        let other = Signer::new(b"another key that is long enough, 32+ bytes").expect("key");
        let t = other.sign(&claims(1_000, 1_900)).expect("sign");
        assert_eq!(s.check(&t, 1_000), Err(Refused::Invalid));
        // Expired and wrongly signed: the signature is what counts.
        assert_eq!(s.check(&t, 5_000), Err(Refused::Invalid));
        let mut c = claims(1_000, 1_900);
        c.iss = "someone-else".into();
        let t = s.sign(&c).expect("sign");
        assert_eq!(s.check(&t, 1_000), Err(Refused::Invalid));
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims(1_000, 1_900),
            &EncodingKey::from_secret(KEY).expect("key"),
        )
        .expect("sign");
        assert_eq!(s.check(&t, 1_000), Err(Refused::Invalid));
        assert_eq!(s.check("not.a.token", 1_000), Err(Refused::Invalid));
        assert_eq!(s.check("", 1_000), Err(Refused::Invalid));
    }

    #[test]
    fn an_unsigned_token_is_invalid() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(serde_json::to_vec(&claims(1_000, 1_900)).expect("json"));
        let s = Signer::new(KEY).expect("key");
        assert_eq!(
            s.check(&format!("{header}.{body}."), 1_000),
            Err(Refused::Invalid)
        );
    }
}
