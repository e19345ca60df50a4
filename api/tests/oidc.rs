#![allow(clippy::unwrap_used)]
//! OpenID Connect bearer tokens against a real, local identity provider.
//!
//! Each test starts its own IdP: an axum server on `127.0.0.1:0` serving a discovery
//! document (`/.well-known/openid-configuration`) and a JWK set (`/jwks.json`), counting
//! how often each is fetched. Its signing keys are EC P-256 keys made with `p256`, and
//! its tokens are signed ES256 with `jsonwebtoken`, as an ENT would sign them. It also
//! answers a userinfo endpoint (`/userinfo`) for the bearer tokens it is given, as Open
//! ENT NG's `auth` module does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use carnet_api::auth::{
    AuthError, Authenticator, ClaimedRole, DevKey, OidcConfig, Principal, DEV_ISSUER,
};
use carnet_api::issuers::{ClaimMapping, Userinfo};
use carnet_domain::Uai;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};

const AUDIENCE: &str = "carnet";
const UAI: &str = "0750655E";
const OTHER_UAI: &str = "0690026D";

// ---------------------------------------------------------------------------------------
// The identity provider
// ---------------------------------------------------------------------------------------

/// An EC P-256 signing key of the identity provider.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// The public key as a JWK, with `kid`, `alg` and `use`: what the JWKS publishes.
    jwk: Value,
    /// The public key as a SPKI PEM (what a key-confusion attacker would use as an HMAC
    /// secret).
    public_pem: String,
}

impl SigningKey {
    fn generate(kid: &str) -> Self {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
        let public = secret.public_key();
        let mut jwk: Value = serde_json::from_str(&public.to_jwk_string()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        SigningKey {
            kid: kid.to_string(),
            encoding,
            jwk,
            public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
        }
    }

    /// `claims` signed ES256, the header naming this key.
    fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed ES256 with this key, the header naming `kid` (whichever key that is).
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

struct IdpState {
    issuer: String,
    /// The published public keys (JWKs); mutable, for key rotation.
    keys: RwLock<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
    /// What `/userinfo` answers, by bearer token (unknown tokens get a 401).
    userinfo: RwLock<HashMap<String, Value>>,
    userinfo_fetches: AtomicUsize,
}

/// A running identity provider; the server stops with the test's runtime.
struct Idp {
    state: Arc<IdpState>,
}

impl Idp {
    async fn start(published: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IdpState {
            issuer,
            keys: RwLock::new(published.iter().map(|k| k.jwk.clone()).collect()),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
            userinfo: RwLock::new(HashMap::new()),
            userinfo_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .route("/userinfo", get(userinfo))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Idp { state }
    }

    fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.state.issuer)
    }

    fn publish(&self, key: &SigningKey) {
        self.state.keys.write().unwrap().push(key.jwk.clone());
    }

    fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    fn userinfo_fetches(&self) -> usize {
        self.state.userinfo_fetches.load(Ordering::SeqCst)
    }

    /// `/userinfo` answers `info` to the bearer of `token`.
    fn answer_userinfo(&self, token: &str, info: Value) {
        self.state
            .userinfo
            .write()
            .unwrap()
            .insert(token.to_string(), info);
    }

    /// Carnet trusting this IdP, finding its keys through discovery.
    fn authenticator(&self) -> Authenticator {
        Authenticator::new(None, Some(self.config()))
    }

    fn config(&self) -> OidcConfig {
        OidcConfig::new(self.issuer(), AUDIENCE)
    }

    /// Valid claims of this IdP: `maths1`, teacher at [`UAI`], for ten minutes.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(),
            "sub": "maths1",
            "aud": AUDIENCE,
            "exp": now + 600,
            "nbf": now,
            "iat": now,
            "uai": UAI,
            "roles": ["teacher"],
            "name": "Prof de maths",
        })
    }
}

async fn discovery(State(state): State<Arc<IdpState>>) -> Json<Value> {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/jwks.json", state.issuer),
        "id_token_signing_alg_values_supported": ["ES256"],
        "userinfo_endpoint": format!("{}/userinfo", state.issuer),
    }))
}

async fn userinfo(
    State(state): State<Arc<IdpState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    state.userinfo_fetches.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let info = state.userinfo.read().unwrap().get(token).cloned();
    info.map(Json).ok_or(StatusCode::UNAUTHORIZED)
}

async fn jwks(State(state): State<Arc<IdpState>>) -> Json<Value> {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.read().unwrap().clone();
    Json(json!({ "keys": keys }))
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token put together by hand: `header.claims.signature`, as an attacker would.
fn hand_built(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// `claims` signed HS256 with `secret`, the header naming `kid`.
fn hmac(alg: Algorithm, kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn uai(text: &str) -> Uai {
    Uai::parse(text).unwrap()
}

/// The expected outcome of a refused token.
#[derive(Debug)]
enum Refused {
    /// Exactly this error.
    Is(AuthError),
    /// `Malformed`, whatever the parser's message.
    Malformed,
}

// ---------------------------------------------------------------------------------------
// 1. Valid tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_es256_token_is_accepted_through_discovery_and_the_keys_are_fetched_once() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (0, 0));

    let first = idp.claims();
    let principal = auth
        .authenticate(Some(&bearer(&key.sign(&first))))
        .await
        .unwrap();
    assert_eq!(
        principal,
        Principal {
            person: "maths1".into(),
            establishments: vec![uai(UAI)],
            roles: vec![ClaimedRole::Teacher],
            issuer: idp.issuer(),
            expires_at: first["exp"].as_i64().unwrap(),
        }
    );
    assert_eq!(idp.discovery_fetches(), 1, "keys found through discovery");
    assert_eq!(idp.jwks_fetches(), 1);

    // A second token (another person, two establishments, two roles): verified with the
    // cached keys.
    let mut claims = idp.claims();
    claims["sub"] = json!("direction1");
    claims["uai"] = json!([UAI, OTHER_UAI]);
    claims["roles"] = json!(["principal", "teacher"]);
    let principal = auth
        .authenticate(Some(&bearer(&key.sign(&claims))))
        .await
        .unwrap();
    assert_eq!(
        principal,
        Principal {
            person: "direction1".into(),
            establishments: vec![uai(UAI), uai(OTHER_UAI)],
            roles: vec![ClaimedRole::Principal, ClaimedRole::Teacher],
            issuer: idp.issuer(),
            expires_at: claims["exp"].as_i64().unwrap(),
        }
    );
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "the second token used the cached keys"
    );
    assert_eq!(idp.discovery_fetches(), 1);
}

#[tokio::test]
async fn a_configured_jwks_url_is_used_without_discovery() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let config = OidcConfig {
        jwks_url: Some(idp.jwks_url()),
        ..idp.config()
    };
    let auth = Authenticator::new(None, Some(config));
    let principal = auth
        .authenticate(Some(&bearer(&key.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(principal.person, "maths1");
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(idp.discovery_fetches(), 0, "discovery is not needed");
}

#[tokio::test]
async fn clock_skew_within_the_30_second_leeway_is_tolerated() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();

    let mut just_expired = idp.claims();
    just_expired["exp"] = json!(now() - 10);
    let mut almost_valid = idp.claims();
    almost_valid["nbf"] = json!(now() + 10);
    for (case, claims) in [
        ("expired 10 s ago", just_expired),
        ("valid in 10 s", almost_valid),
    ] {
        let outcome = auth.authenticate(Some(&bearer(&key.sign(&claims)))).await;
        assert!(outcome.is_ok(), "{case}: {outcome:?}");
    }
}

// ---------------------------------------------------------------------------------------
// 2. Refused tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn refused_tokens_get_the_exact_error() {
    let key = SigningKey::generate("key1");
    let unpublished = SigningKey::generate("other");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();
    let valid = idp.claims();
    let now = now();

    // A valid token first, so that the keys are cached: none of the refusals below may
    // cost another fetch.
    auth.authenticate(Some(&bearer(&key.sign(&valid))))
        .await
        .unwrap();

    let with = |field: &str, value: Value| {
        let mut claims = valid.clone();
        claims[field] = value;
        claims
    };
    let expired = key.sign(&with("exp", json!(now - 3600)));
    let not_yet_valid = key.sign(&with("nbf", json!(now + 3600)));
    let foreign_issuer = key.sign(&with("iss", json!("https://ent.example.org")));
    let issuer_with_slash = key.sign(&with("iss", json!(format!("{}/", idp.issuer()))));
    let wrong_audience = key.sign(&with("aud", json!("pronote")));
    let alg_none = hand_built(&json!({"alg": "none", "typ": "JWT"}), &valid, "");
    let alg_none_with_kid = hand_built(
        &json!({"alg": "none", "typ": "JWT", "kid": "key1"}),
        &valid,
        "",
    );
    // Key confusion: the public key (as PEM, and as its published JWK) used as an HMAC
    // secret, with the right key id.
    let hs256_public_pem = hmac(Algorithm::HS256, "key1", key.public_pem.as_bytes(), &valid);
    let hs256_public_jwk = hmac(
        Algorithm::HS256,
        "key1",
        key.jwk.to_string().as_bytes(),
        &valid,
    );
    let hs512_public_pem = hmac(Algorithm::HS512, "key1", key.public_pem.as_bytes(), &valid);
    // The header claims another algorithm than the key's: the key's is the one used.
    let es256 = key.sign(&valid);
    let signature = es256.rsplit('.').next().unwrap();
    let es384_header = hand_built(
        &json!({"alg": "ES384", "typ": "JWT", "kid": "key1"}),
        &valid,
        signature,
    );
    let unknown_kid = unpublished.sign(&valid);
    let no_kid =
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &valid, &key.encoding).unwrap();
    let forged_with_published_kid = unpublished.sign_as("key1", &valid);
    // A valid token whose payload is swapped for another person's.
    let tampered = {
        let parts: Vec<&str> = es256.split('.').collect();
        let payload = b64(with("sub", json!("director")).to_string().as_bytes());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let no_issuer = {
        let mut claims = valid.clone();
        claims.as_object_mut().unwrap().remove("iss");
        key.sign(&claims)
    };

    let cases: Vec<(&str, Option<String>, Refused)> = vec![
        (
            "expired an hour ago",
            Some(bearer(&expired)),
            Refused::Is(AuthError::Expired),
        ),
        (
            "valid in an hour",
            Some(bearer(&not_yet_valid)),
            Refused::Is(AuthError::NotYetValid),
        ),
        (
            "another issuer",
            Some(bearer(&foreign_issuer)),
            Refused::Is(AuthError::UnknownIssuer("https://ent.example.org".into())),
        ),
        (
            "the issuer with a trailing slash",
            Some(bearer(&issuer_with_slash)),
            Refused::Is(AuthError::UnknownIssuer(format!("{}/", idp.issuer()))),
        ),
        (
            "another audience",
            Some(bearer(&wrong_audience)),
            Refused::Is(AuthError::WrongAudience),
        ),
        (
            "alg none",
            Some(bearer(&alg_none)),
            Refused::Is(AuthError::Algorithm("none or unknown".into())),
        ),
        (
            "alg none with the published kid",
            Some(bearer(&alg_none_with_kid)),
            Refused::Is(AuthError::Algorithm("none or unknown".into())),
        ),
        (
            "HS256 signed with the public key's PEM",
            Some(bearer(&hs256_public_pem)),
            Refused::Is(AuthError::Algorithm("HS256".into())),
        ),
        (
            "HS256 signed with the public key's JWK",
            Some(bearer(&hs256_public_jwk)),
            Refused::Is(AuthError::Algorithm("HS256".into())),
        ),
        (
            "HS512 signed with the public key's PEM",
            Some(bearer(&hs512_public_pem)),
            Refused::Is(AuthError::Algorithm("HS512".into())),
        ),
        (
            "ES384 in the header of an ES256 key's token",
            Some(bearer(&es384_header)),
            Refused::Is(AuthError::Algorithm("ES384".into())),
        ),
        (
            "signed by an unpublished key (kid other)",
            Some(bearer(&unknown_kid)),
            Refused::Is(AuthError::UnknownKey("other".into())),
        ),
        (
            "no kid",
            Some(bearer(&no_kid)),
            Refused::Is(AuthError::UnknownKey("(none given)".into())),
        ),
        (
            "signed by an unpublished key under the published kid",
            Some(bearer(&forged_with_published_kid)),
            Refused::Is(AuthError::Signature),
        ),
        (
            "payload swapped after signing",
            Some(bearer(&tampered)),
            Refused::Is(AuthError::Signature),
        ),
        (
            "no iss",
            Some(bearer(&no_issuer)),
            Refused::Is(AuthError::Claims("`iss` is missing".into())),
        ),
        (
            "not a JWT",
            Some("Bearer not-a-jwt".into()),
            Refused::Malformed,
        ),
        (
            "three garbage segments",
            Some("Bearer a.b.c".into()),
            Refused::Malformed,
        ),
        (
            "Bearer and nothing",
            Some("Bearer ".into()),
            Refused::Is(AuthError::Missing),
        ),
        (
            "empty header",
            Some(String::new()),
            Refused::Is(AuthError::Missing),
        ),
        (
            "another scheme",
            Some("Basic bWF0aHMxOnB3".into()),
            Refused::Is(AuthError::Missing),
        ),
        (
            "no Authorization header",
            None,
            Refused::Is(AuthError::Missing),
        ),
    ];

    let mut failures = Vec::new();
    for (case, header, expected) in &cases {
        let outcome = auth.authenticate(header.as_deref()).await;
        let ok = match (&outcome, expected) {
            (Err(got), Refused::Is(want)) => got == want,
            (Err(got), Refused::Malformed) => matches!(got, AuthError::Malformed(_)),
            (Ok(_), _) => false,
        };
        if !ok {
            failures.push(format!("{case}: expected {expected:?}, got {outcome:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        idp.jwks_fetches(),
        1,
        "refused tokens, unknown kid included, do not fetch the keys again"
    );
}

#[tokio::test]
async fn an_unknown_key_id_on_a_fresh_authenticator_is_refused_after_one_fetch() {
    let key = SigningKey::generate("key1");
    let unpublished = SigningKey::generate("other");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();
    assert_eq!(
        auth.authenticate(Some(&bearer(&unpublished.sign(&idp.claims()))))
            .await,
        Err(AuthError::UnknownKey("other".into()))
    );
    assert_eq!(idp.jwks_fetches(), 1);
    // The keys fetched for the refused token serve the next valid one.
    auth.authenticate(Some(&bearer(&key.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(idp.jwks_fetches(), 1);
}

#[tokio::test]
async fn keys_that_cannot_be_fetched_give_a_jwks_error() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let config = OidcConfig {
        jwks_url: Some(format!("{}/no-such-keys.json", idp.issuer())),
        ..idp.config()
    };
    let auth = Authenticator::new(None, Some(config));
    let outcome = auth
        .authenticate(Some(&bearer(&key.sign(&idp.claims()))))
        .await;
    assert!(
        matches!(&outcome, Err(AuthError::Jwks(message)) if message.contains("404")),
        "{outcome:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Key rotation
// ---------------------------------------------------------------------------------------

/// The IdP starts publishing a second key. A token under the new key id, within 30 s
/// of the last fetch, is refused without asking the IdP again (the refresh floor): the
/// rotation itself is seen once the floor has passed (the test below).
#[tokio::test]
async fn an_unknown_key_id_within_30_seconds_of_a_fetch_is_refused_without_refetching() {
    let old = SigningKey::generate("key1");
    let new = SigningKey::generate("key2");
    let idp = Idp::start(&[&old]).await;
    let auth = idp.authenticator();
    auth.authenticate(Some(&bearer(&old.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(idp.jwks_fetches(), 1);

    idp.publish(&new);
    for _ in 0..3 {
        assert_eq!(
            auth.authenticate(Some(&bearer(&new.sign(&idp.claims()))))
                .await,
            Err(AuthError::UnknownKey("key2".into()))
        );
    }
    assert_eq!(idp.jwks_fetches(), 1, "rate limited: no fetch within 30 s");
    // The old key still works from the cache.
    auth.authenticate(Some(&bearer(&old.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(idp.jwks_fetches(), 1);
}

/// The rotation itself: once the refresh floor has passed (shortened here to nothing),
/// the new key id makes Carnet fetch the keys exactly once more, and the token is
/// accepted.
#[tokio::test]
async fn a_rotated_key_is_fetched_once_after_the_refresh_floor() {
    let old = SigningKey::generate("key1");
    let new = SigningKey::generate("key2");
    let idp = Idp::start(&[&old]).await;
    let auth = idp
        .authenticator()
        .with_jwks_refresh_floor(std::time::Duration::ZERO);
    auth.authenticate(Some(&bearer(&old.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(idp.jwks_fetches(), 1);

    idp.publish(&new);
    let principal = auth
        .authenticate(Some(&bearer(&new.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!(principal.person, "maths1");
    assert_eq!(
        idp.jwks_fetches(),
        2,
        "the unknown kid refreshed the keys once"
    );
    for signer in [&new, &old] {
        auth.authenticate(Some(&bearer(&signer.sign(&idp.claims()))))
            .await
            .unwrap();
    }
    assert_eq!(idp.jwks_fetches(), 2);
}

// ---------------------------------------------------------------------------------------
// 4. Development tokens and the identity provider's
// ---------------------------------------------------------------------------------------

fn dev_token(dev: &DevKey) -> String {
    dev.mint(
        "prof01",
        &[uai(UAI)],
        &[ClaimedRole::Teacher],
        chrono::Duration::hours(1),
    )
    .unwrap()
}

#[tokio::test]
async fn a_dev_token_is_refused_where_only_the_identity_provider_is_trusted() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();
    let dev = DevKey::new(vec![7; 32]);
    assert_eq!(
        auth.authenticate(Some(&bearer(&dev_token(&dev)))).await,
        Err(AuthError::UnknownIssuer(DEV_ISSUER.into()))
    );
    assert_eq!(
        idp.jwks_fetches(),
        0,
        "no key is fetched for another issuer"
    );
}

#[tokio::test]
async fn an_identity_provider_token_is_refused_where_only_dev_tokens_are_trusted() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = Authenticator::new(Some(DevKey::new(vec![7; 32])), None);
    assert_eq!(
        auth.authenticate(Some(&bearer(&key.sign(&idp.claims()))))
            .await,
        Err(AuthError::UnknownIssuer(idp.issuer()))
    );
    assert_eq!(idp.jwks_fetches(), 0);
}

#[tokio::test]
async fn with_both_trusted_each_token_is_checked_by_its_own_issuer_only() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let secret = vec![7; 32];
    let dev = DevKey::new(secret.clone());
    let auth = Authenticator::new(Some(dev.clone()), Some(idp.config()));

    let p = auth
        .authenticate(Some(&bearer(&dev_token(&dev))))
        .await
        .unwrap();
    assert_eq!(
        (p.person.as_str(), p.issuer.as_str()),
        ("prof01", DEV_ISSUER)
    );
    let p = auth
        .authenticate(Some(&bearer(&key.sign(&idp.claims()))))
        .await
        .unwrap();
    assert_eq!((p.person, p.issuer), ("maths1".to_string(), idp.issuer()));

    // The development secret cannot sign for the identity provider...
    let hs256_for_idp = hmac(Algorithm::HS256, "key1", &secret, &idp.claims());
    assert_eq!(
        auth.authenticate(Some(&bearer(&hs256_for_idp))).await,
        Err(AuthError::Algorithm("HS256".into()))
    );
    // ...nor the identity provider's key for the development issuer.
    let mut dev_claims = idp.claims();
    dev_claims["iss"] = json!(DEV_ISSUER);
    assert_eq!(
        auth.authenticate(Some(&bearer(&key.sign(&dev_claims))))
            .await,
        Err(AuthError::Algorithm("ES256".into()))
    );
}

// ---------------------------------------------------------------------------------------
// 5. ENT-shaped tokens: audiences, claim mappings, several issuers, userinfo
// ---------------------------------------------------------------------------------------

/// An Open ENT NG-like mapping: the SDET's `ENTPersonProfils`, the structures as objects
/// holding their `UAI`.
fn ent_mapping() -> ClaimMapping {
    ClaimMapping {
        establishments: "structures".into(),
        establishment_field: Some("UAI".into()),
        profiles: "ENTPersonProfils".into(),
        ..ClaimMapping::default()
    }
}

/// Claims as such an ENT sends them: its own subject, its profiles, its structures.
fn ent_claims(idp: &Idp, person: &str, profiles: Value) -> Value {
    let now = now();
    json!({
        "iss": idp.issuer(),
        "sub": person,
        "aud": AUDIENCE,
        "exp": now + 600,
        "iat": now,
        "ENTPersonProfils": profiles,
        "structures": [
            {"UAI": UAI, "name": "Lycée Victor Duruy"},
            {"UAI": OTHER_UAI, "name": "Collège Jean Moulin"},
        ],
    })
}

#[tokio::test]
async fn ent_tokens_of_each_national_profile_resolve_to_their_roles_and_establishments() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = Authenticator::new(
        None,
        Some(OidcConfig {
            claims: ent_mapping(),
            ..idp.config()
        }),
    );
    let cases: Vec<(Value, Vec<ClaimedRole>)> = vec![
        (json!("National_ELV"), vec![ClaimedRole::Student]),
        (json!(["National_TUT"]), vec![ClaimedRole::Guardian]),
        (json!("National_ENS"), vec![ClaimedRole::Teacher]),
        (
            json!("National_EVS"),
            vec![ClaimedRole::Cpe, ClaimedRole::Aed],
        ),
        (json!("National_DIR"), vec![ClaimedRole::Principal]),
        // Unmapped by default (see issuers.rs), and unknown profiles: ignored, not fatal;
        // such a token acts as nobody.
        (json!("National_DOC"), vec![]),
        (json!("National_COL"), vec![]),
        (
            json!(["National_XYZ", "National_ENS", "National_DIR"]),
            vec![ClaimedRole::Teacher, ClaimedRole::Principal],
        ),
    ];
    for (profiles, roles) in cases {
        let claims = ent_claims(&idp, "ent-4242", profiles.clone());
        let principal = auth
            .authenticate(Some(&bearer(&key.sign(&claims))))
            .await
            .unwrap_or_else(|e| panic!("{profiles}: {e}"));
        assert_eq!(
            principal,
            Principal {
                person: "ent-4242".into(),
                establishments: vec![uai(UAI), uai(OTHER_UAI)],
                roles,
                issuer: idp.issuer(),
                expires_at: claims["exp"].as_i64().unwrap(),
            },
            "{profiles}"
        );
    }
}

#[tokio::test]
async fn aud_may_be_an_array_that_must_name_the_configured_audience() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = idp.authenticator();
    let mut claims = idp.claims();
    claims["aud"] = json!(["pronote", AUDIENCE]);
    let principal = auth
        .authenticate(Some(&bearer(&key.sign(&claims))))
        .await
        .unwrap();
    assert_eq!(principal.person, "maths1");

    claims["aud"] = json!(["pronote", "moodle"]);
    assert_eq!(
        auth.authenticate(Some(&bearer(&key.sign(&claims)))).await,
        Err(AuthError::WrongAudience)
    );
    claims["aud"] = json!([]);
    assert_eq!(
        auth.authenticate(Some(&bearer(&key.sign(&claims)))).await,
        Err(AuthError::WrongAudience)
    );
}

#[tokio::test]
async fn two_issuers_are_trusted_at_once_each_with_its_own_mapping() {
    let carnet_key = SigningKey::generate("key1");
    let ent_key = SigningKey::generate("key1");
    let carnet_idp = Idp::start(&[&carnet_key]).await;
    let ent_idp = Idp::start(&[&ent_key]).await;
    let third_key = SigningKey::generate("key1");
    let third_idp = Idp::start(&[&third_key]).await;
    let auth = Authenticator::new(
        None,
        vec![
            carnet_idp.config(),
            OidcConfig {
                claims: ent_mapping(),
                ..ent_idp.config()
            },
        ],
    );

    let own = auth
        .authenticate(Some(&bearer(&carnet_key.sign(&carnet_idp.claims()))))
        .await
        .unwrap();
    assert_eq!(
        (own.person.as_str(), own.roles, own.issuer),
        ("maths1", vec![ClaimedRole::Teacher], carnet_idp.issuer())
    );
    let ent = auth
        .authenticate(Some(&bearer(&ent_key.sign(&ent_claims(
            &ent_idp,
            "ent-1",
            json!("National_TUT"),
        )))))
        .await
        .unwrap();
    assert_eq!(
        (ent.person.as_str(), ent.roles, ent.issuer),
        ("ent-1", vec![ClaimedRole::Guardian], ent_idp.issuer())
    );
    assert_eq!(ent.establishments, vec![uai(UAI), uai(OTHER_UAI)]);

    // Each issuer's mapping is its own: Carnet's claims mean nothing to the ENT's...
    let mut carnet_shaped = carnet_idp.claims();
    carnet_shaped["iss"] = json!(ent_idp.issuer());
    assert_eq!(
        auth.authenticate(Some(&bearer(&ent_key.sign(&carnet_shaped))))
            .await,
        Err(AuthError::Claims("`structures` is missing".into()))
    );
    // ...and each issuer's keys sign for it alone.
    assert_eq!(
        auth.authenticate(Some(&bearer(&carnet_key.sign(&carnet_shaped))))
            .await,
        Err(AuthError::Signature)
    );
    // A third issuer, however well formed its token, is not trusted.
    let mut third = third_idp.claims();
    third["iss"] = json!(third_idp.issuer());
    assert_eq!(
        auth.authenticate(Some(&bearer(&third_key.sign(&third))))
            .await,
        Err(AuthError::UnknownIssuer(third_idp.issuer()))
    );
    assert_eq!(third_idp.jwks_fetches(), 0);
}

/// Open ENT NG's JSON userinfo: the person's `externalId`, one profile in `type`, the UAIs
/// of its structures in `uai`.
fn ent_userinfo_config(idp: &Idp) -> OidcConfig {
    let mut claims = ClaimMapping {
        person: "externalId".into(),
        profiles: "type".into(),
        ..ClaimMapping::default()
    };
    claims
        .roles
        .insert("ENSEIGNANT".into(), vec![ClaimedRole::Teacher]);
    OidcConfig {
        userinfo: Userinfo::Discovery,
        claims,
        ..idp.config()
    }
}

/// A bare access token: no `externalId`, `type` nor `uai`.
fn bare_claims(idp: &Idp, sub: &str) -> Value {
    let now = now();
    json!({"iss": idp.issuer(), "sub": sub, "aud": AUDIENCE, "exp": now + 600, "iat": now})
}

#[tokio::test]
async fn what_the_token_lacks_is_read_from_the_userinfo_once_per_token() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = Authenticator::new(None, Some(ent_userinfo_config(&idp)));
    let token = key.sign(&bare_claims(&idp, "u-1"));
    idp.answer_userinfo(
        &token,
        json!({"sub": "u-1", "externalId": "F1234ABC", "type": "ENSEIGNANT", "uai": [UAI]}),
    );

    for _ in 0..3 {
        let principal = auth.authenticate(Some(&bearer(&token))).await.unwrap();
        assert_eq!(
            (
                principal.person.as_str(),
                principal.establishments,
                principal.roles
            ),
            ("F1234ABC", vec![uai(UAI)], vec![ClaimedRole::Teacher])
        );
    }
    assert_eq!(idp.userinfo_fetches(), 1, "cached until the token expires");
    assert_eq!(idp.discovery_fetches(), 1, "endpoint found once");

    // Another token is asked about on its own.
    let other = key.sign(&bare_claims(&idp, "u-2"));
    idp.answer_userinfo(
        &other,
        json!({"externalId": "F9999XYZ", "type": "PERSEDUCNAT", "uai": OTHER_UAI}),
    );
    let principal = auth.authenticate(Some(&bearer(&other))).await.unwrap();
    assert_eq!(principal.person, "F9999XYZ");
    assert_eq!(
        principal.roles,
        vec![],
        "an unmapped profile acts as nobody"
    );
    assert_eq!(idp.userinfo_fetches(), 2);

    // A token that carries the claims itself needs no userinfo.
    let mut full = bare_claims(&idp, "u-3");
    full["externalId"] = json!("F0000AAA");
    full["type"] = json!("ENSEIGNANT");
    full["uai"] = json!(UAI);
    auth.authenticate(Some(&bearer(&key.sign(&full))))
        .await
        .unwrap();
    assert_eq!(idp.userinfo_fetches(), 2);
}

#[tokio::test]
async fn a_userinfo_for_another_subject_or_none_at_all_is_refused() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = Authenticator::new(None, Some(ent_userinfo_config(&idp)));

    let token = key.sign(&bare_claims(&idp, "u-1"));
    idp.answer_userinfo(
        &token,
        json!({"sub": "someone-else", "externalId": "F1", "type": "ENSEIGNANT", "uai": UAI}),
    );
    assert_eq!(
        auth.authenticate(Some(&bearer(&token))).await,
        Err(AuthError::Claims(
            "the userinfo's `sub` is not the token's".into()
        ))
    );

    // The provider refuses the token: a userinfo error, whose details (the provider's
    // address, its status) the server logs and never answers.
    let unknown = key.sign(&bare_claims(&idp, "u-2"));
    let outcome = auth.authenticate(Some(&bearer(&unknown))).await;
    assert!(
        matches!(&outcome, Err(AuthError::Userinfo(detail)) if detail.contains("401")),
        "{outcome:?}"
    );

    // Without a userinfo endpoint, what the token lacks is named.
    let no_userinfo = Authenticator::new(
        None,
        Some(OidcConfig {
            userinfo: Userinfo::Never,
            ..ent_userinfo_config(&idp)
        }),
    );
    assert_eq!(
        no_userinfo.authenticate(Some(&bearer(&token))).await,
        Err(AuthError::Claims("`externalId` is missing".into()))
    );
}

#[tokio::test]
async fn a_configured_userinfo_url_is_used_without_discovery() {
    let key = SigningKey::generate("key1");
    let idp = Idp::start(&[&key]).await;
    let auth = Authenticator::new(
        None,
        Some(OidcConfig {
            jwks_url: Some(idp.jwks_url()),
            userinfo: Userinfo::Url(format!("{}/userinfo", idp.issuer())),
            ..ent_userinfo_config(&idp)
        }),
    );
    let token = key.sign(&bare_claims(&idp, "u-1"));
    idp.answer_userinfo(
        &token,
        json!({"externalId": "F1", "type": "ENSEIGNANT", "uai": UAI}),
    );
    let principal = auth.authenticate(Some(&bearer(&token))).await.unwrap();
    assert_eq!(principal.person, "F1");
    assert_eq!((idp.discovery_fetches(), idp.userinfo_fetches()), (0, 1));
}
