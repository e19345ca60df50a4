//! Authentication: OpenID Connect bearer tokens, as the ENT (the identity provider)
//! issues them, and development tokens minted by `carnet token` with a local key.
//!
//! A token is checked by the verifier of its issuer, and each verifier accepts only its
//! own algorithms: the ENT's keys come from its JWKS (so `alg` is taken from the key,
//! never from the token: an HS256 token signed with the public key, or `alg: none`, is
//! refused), the development key is an HS256 secret trusted only when the server is
//! configured to. Issuer, audience, expiry and not-before are checked for both.
//!
//! Several issuers may be trusted at once (one per académie or ENT), each with its own
//! claim mapping ([`crate::issuers`]); what a token lacks may be asked of its issuer's
//! userinfo endpoint.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_domain::Uai;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::issuers::{ClaimMapping, Userinfo};

/// The issuer of development tokens.
pub const DEV_ISSUER: &str = "carnet-dev";
/// The audience development tokens are minted for, unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "carnet";
/// Clock skew tolerated between the identity provider and Carnet.
const LEEWAY_SECONDS: u64 = 30;
/// How long fetched keys are used before asking the issuer again.
const JWKS_TTL: Duration = Duration::from_secs(600);
/// An unknown key id makes us ask again at most this often (key rotation, not a DoS).
const JWKS_REFRESH_FLOOR: Duration = Duration::from_secs(30);
/// A userinfo endpoint slower than this fails the request rather than holding it.
const USERINFO_TIMEOUT: Duration = Duration::from_secs(5);
/// Userinfo answers kept (each until its token expires); past this, the expired ones are
/// dropped, then all of them: a bound on memory, not a policy.
const USERINFO_CACHE_ENTRIES: usize = 4096;

/// What a person acts as. Staff roles are also checked against the establishment's
/// record; guardian and student against the enrolment read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ClaimedRole {
    Guardian,
    Student,
    Teacher,
    Cpe,
    Aed,
    Secretariat,
    Principal,
    /// Inspection, rectorat: reads every establishment of their scope, writes nothing.
    Auditor,
}

impl ClaimedRole {
    pub const ALL: [ClaimedRole; 8] = [
        ClaimedRole::Guardian,
        ClaimedRole::Student,
        ClaimedRole::Teacher,
        ClaimedRole::Cpe,
        ClaimedRole::Aed,
        ClaimedRole::Secretariat,
        ClaimedRole::Principal,
        ClaimedRole::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimedRole::Guardian => "guardian",
            ClaimedRole::Student => "student",
            ClaimedRole::Teacher => "teacher",
            ClaimedRole::Cpe => "cpe",
            ClaimedRole::Aed => "aed",
            ClaimedRole::Secretariat => "secretariat",
            ClaimedRole::Principal => "principal",
            ClaimedRole::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<ClaimedRole> {
        ClaimedRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// One establishment or several (an auditor's scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// Carnet's own claims, as development tokens carry them. `uai` is the establishment the
/// person belongs to (an ENT claim); `roles` what they act as there. Tokens are read
/// through a [`ClaimMapping`], of which these are the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// One audience or several (RFC 7519 §4.1.3).
    pub aud: OneOrMany,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iat: i64,
    pub uai: OneOrMany,
    #[serde(default)]
    pub roles: Vec<ClaimedRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Who is calling: an authenticated person, the establishments the token covers and the
/// roles it claims there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub person: String,
    pub establishments: Vec<Uai>,
    pub roles: Vec<ClaimedRole>,
    pub issuer: String,
    /// When the token stops being valid (seconds since the epoch): a live connection
    /// authenticated with it is closed then.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf is in the future)")]
    NotYetValid,
    #[error("the token's issuer `{0}` is not trusted here")]
    UnknownIssuer(String),
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token's algorithm {0} is not accepted for its issuer")]
    Algorithm(String),
    #[error("the token's key id `{0}` is not among the issuer's keys")]
    UnknownKey(String),
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token's claims are not valid: {0}")]
    Claims(String),
    #[error("the identity provider's keys cannot be fetched: {0}")]
    Jwks(String),
    #[error("the identity provider's userinfo cannot be fetched: {0}")]
    Userinfo(String),
}

impl AuthError {
    /// Why the token is refused, in French and in English (`Display` is the English,
    /// for the logs and the `WWW-Authenticate` challenge).
    pub fn text(&self) -> crate::i18n::Text {
        use crate::i18n::Text;
        let en = self.to_string();
        let fr = match self {
            AuthError::Missing => {
                "aucun jeton d'accès : envoyez `Authorization: Bearer <jeton>`".to_string()
            }
            AuthError::Malformed(why) => format!("le jeton n'est pas un JWT : {why}"),
            AuthError::Expired => "le jeton a expiré".to_string(),
            AuthError::NotYetValid => {
                "le jeton n'est pas encore valide (nbf est dans le futur)".to_string()
            }
            AuthError::UnknownIssuer(issuer) => {
                format!("l'émetteur du jeton `{issuer}` n'est pas reconnu ici")
            }
            AuthError::WrongAudience => "le jeton est destiné à une autre audience".to_string(),
            AuthError::Algorithm(algorithm) => {
                format!("l'algorithme {algorithm} du jeton n'est pas accepté pour son émetteur")
            }
            AuthError::UnknownKey(kid) => {
                format!("l'identifiant de clé `{kid}` du jeton ne figure pas parmi les clés de l'émetteur")
            }
            AuthError::Signature => "la signature du jeton n'est pas valide".to_string(),
            AuthError::Claims(why) => format!("les attributs du jeton ne sont pas valides : {why}"),
            AuthError::Jwks(why) => {
                format!("les clés du fournisseur d'identité ne peuvent pas être récupérées : {why}")
            }
            AuthError::Userinfo(why) => {
                format!("le fournisseur d'identité ne peut pas dire qui vous êtes : {why}")
            }
        };
        Text::new(fr, en)
    }
}

/// The local development key: an HS256 secret in the data directory.
#[derive(Clone)]
pub struct DevKey {
    secret: Arc<[u8]>,
    pub audience: String,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKey").finish_non_exhaustive()
    }
}

impl DevKey {
    pub fn new(secret: Vec<u8>) -> Self {
        DevKey {
            secret: secret.into(),
            audience: DEFAULT_AUDIENCE.to_string(),
        }
    }

    /// The key kept in `dir/dev-token.key`, created (random, 32 bytes) the first time.
    pub fn load_or_create(dir: &std::path::Path) -> std::io::Result<Self> {
        let path = dir.join("dev-token.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let secret = hex_decode(text.trim()).ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} is not a hex key", path.display()),
                    )
                })?;
                Ok(DevKey::new(secret))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                carnet_store::files::private_dir(dir)?;
                let secret: [u8; 32] = rand::random();
                // Whoever reads it can mint any token: its owner's only.
                carnet_store::files::write_private(&path, hex_encode(&secret))?;
                Ok(DevKey::new(secret.to_vec()))
            }
            Err(e) => Err(e),
        }
    }

    /// A token for `person` acting as `roles` in `establishments`, valid for `ttl`.
    pub fn mint(
        &self,
        person: &str,
        establishments: &[Uai],
        roles: &[ClaimedRole],
        ttl: chrono::Duration,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let uai = match establishments {
            [one] => OneOrMany::One(one.to_string()),
            many => OneOrMany::Many(many.iter().map(Uai::to_string).collect()),
        };
        let claims = Claims {
            iss: DEV_ISSUER.to_string(),
            sub: person.to_string(),
            aud: OneOrMany::One(self.audience.clone()),
            exp: now + ttl.num_seconds(),
            nbf: Some(now),
            iat: now,
            uai,
            roles: roles.to_vec(),
            name: None,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .map_err(|e| AuthError::Malformed(e.to_string()))
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() < 32 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// An identity provider Carnet trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    /// Where the issuer's keys are; by default found through its discovery document.
    pub jwks_url: Option<String>,
    /// Whether, and where, to ask what the token lacks.
    pub userinfo: Userinfo,
    /// Which claims say who, where and as what.
    pub claims: ClaimMapping,
}

impl OidcConfig {
    /// `issuer` with Carnet's own claims, its keys through discovery, no userinfo.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        OidcConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_url: None,
            userinfo: Userinfo::Never,
            claims: ClaimMapping::default(),
        }
    }
}

#[derive(Debug, Default)]
struct KeyCache {
    keys: Option<JwkSet>,
    fetched: Option<Instant>,
}

/// Userinfo answers by access token, each kept until its token's `exp`.
#[derive(Debug, Default)]
struct UserinfoCache {
    entries: HashMap<String, (Map<String, Value>, i64)>,
    /// The discovery document's `userinfo_endpoint`, once read.
    endpoint: Option<String>,
}

#[derive(Debug)]
struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
    userinfo: Mutex<UserinfoCache>,
    refresh_floor: Duration,
}

#[derive(Debug, Default)]
pub struct Authenticator {
    dev: Option<DevKey>,
    issuers: Vec<Oidc>,
    auditors: Auditors,
}

/// Who may act as an auditor (an inspector of the rectorat, the DPO of the région): a
/// token's `auditor` role counts only for a person listed here, and only for the
/// establishments listed with them (all of them when none are). The token alone is not
/// enough: an identity provider's `roles` claim is not under the schools' control.
///
/// Written `person` or `person@UAI+UAI`, entries separated by commas
/// (`CARNET_AUDITORS="dpo.region, insp.dupont@0750655E+0750656F"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auditors(BTreeMap<String, Option<BTreeSet<Uai>>>);

impl Auditors {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut auditors = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (person, scope) = match entry.split_once('@') {
                None => (entry, None),
                Some((person, list)) => {
                    let scope = list
                        .split('+')
                        .map(|u| Uai::parse(u).map_err(|e| format!("auditor `{entry}`: {e}")))
                        .collect::<Result<BTreeSet<_>, _>>()?;
                    (person, Some(scope))
                }
            };
            let person = person.trim();
            if person.is_empty() {
                return Err(format!("auditor `{entry}`: no person before `@`"));
            }
            auditors.insert(person.to_string(), scope);
        }
        Ok(Auditors(auditors))
    }

    /// Adds `person` as an auditor of every establishment.
    pub fn with(mut self, person: &str) -> Self {
        self.0.insert(person.to_string(), None);
        self
    }

    /// Whether `person` may audit all of `establishments`.
    pub fn allows(&self, person: &str, establishments: &[Uai]) -> bool {
        match self.0.get(person) {
            None => false,
            Some(None) => true,
            Some(Some(scope)) => establishments.iter().all(|u| scope.contains(u)),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Discovery {
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

impl Authenticator {
    /// Trusts development tokens signed with `dev`, if any, and the tokens of each issuer
    /// of `oidc` (one `Option`, or a list read by [`crate::issuers::load`]).
    pub fn new(dev: Option<DevKey>, oidc: impl IntoIterator<Item = OidcConfig>) -> Self {
        // One backend is compiled in; installing it explicitly keeps jsonwebtoken from
        // guessing (an Err means it is installed already).
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Authenticator {
            dev,
            auditors: Auditors::default(),
            issuers: oidc
                .into_iter()
                .map(|config| Oidc {
                    config,
                    http: http.clone(),
                    cache: Mutex::new(KeyCache::default()),
                    userinfo: Mutex::new(UserinfoCache::default()),
                    refresh_floor: JWKS_REFRESH_FLOOR,
                })
                .collect(),
        }
    }

    /// How soon after a fetch an unknown key id may fetch the keys again (30 s by
    /// default); tests shorten it to watch a key rotation.
    pub fn with_jwks_refresh_floor(mut self, floor: Duration) -> Self {
        for oidc in &mut self.issuers {
            oidc.refresh_floor = floor;
        }
        self
    }

    /// Who may act as an auditor (see [`Auditors`]); nobody by default.
    pub fn with_auditors(mut self, auditors: Auditors) -> Self {
        self.auditors = auditors;
        self
    }

    pub fn trusts_dev_tokens(&self) -> bool {
        self.dev.is_some()
    }

    /// The principal of an `Authorization` header's value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            // `none` and other algorithms jsonwebtoken does not know fail here.
            ErrorKind::Json(_) => AuthError::Algorithm("none or unknown".into()),
            _ => AuthError::Malformed(e.to_string()),
        })?;
        let issuer = unverified_issuer(token)?;
        let oidc = self.issuers.iter().find(|o| o.config.issuer == issuer);
        let mut principal = match (&self.dev, oidc) {
            (Some(dev), _) if issuer == DEV_ISSUER => {
                let claims = verify_dev(dev, token, header.alg)?;
                principal(&ClaimMapping::default(), &[&claims])?
            }
            (_, Some(oidc)) => oidc.principal(token, &header).await?,
            _ => return Err(AuthError::UnknownIssuer(issuer)),
        };
        if !self
            .auditors
            .allows(&principal.person, &principal.establishments)
        {
            // Claimed but not granted: the token acts with its other roles, if any.
            principal.roles.retain(|r| *r != ClaimedRole::Auditor);
        }
        Ok(principal)
    }
}

/// The `iss` claim before verification: only to choose the verifier, which then checks
/// it again with the signature.
fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    use base64::Engine;
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| AuthError::Malformed("it has no payload".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| AuthError::Malformed(format!("payload is not base64url: {e}")))?;
    let iss: Iss = serde_json::from_slice(&bytes)
        .map_err(|e| AuthError::Malformed(format!("payload is not JSON: {e}")))?;
    iss.iss
        .ok_or_else(|| AuthError::Claims("`iss` is missing".into()))
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.validate_nbf = true;
    v.leeway = LEEWAY_SECONDS;
    v
}

/// A token's claims once verified: whatever the issuer put there, read by its mapping.
type RawClaims = Map<String, Value>;

fn verify_dev(dev: &DevKey, token: &str, alg: Algorithm) -> Result<RawClaims, AuthError> {
    if alg != Algorithm::HS256 {
        return Err(AuthError::Algorithm(format!("{alg:?}")));
    }
    let v = validation(Algorithm::HS256, DEV_ISSUER, &dev.audience);
    jsonwebtoken::decode::<RawClaims>(token, &DecodingKey::from_secret(&dev.secret), &v)
        .map(|d| d.claims)
        .map_err(refusal)
}

fn refusal(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::UnknownIssuer("(as signed)".into()),
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm("of the token".into()),
        ErrorKind::MissingRequiredClaim(c) => AuthError::Claims(format!("`{c}` is missing")),
        ErrorKind::Json(j) => AuthError::Claims(j.to_string()),
        _ => AuthError::Malformed(e.to_string()),
    }
}

/// The algorithm a JWK is for: its `alg`, or the usual one of its key type.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return alg.to_string().parse().ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            jsonwebtoken::jwk::EllipticCurve::P256 => Some(Algorithm::ES256),
            jsonwebtoken::jwk::EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        // A shared secret in a public key set would let anyone sign.
        AlgorithmParameters::OctetKey(_) => None,
    }
}

impl Oidc {
    /// The principal of a token of this issuer: verified, then mapped, with the userinfo
    /// when the token lacks a claim the mapping reads.
    async fn principal(&self, token: &str, header: &Header) -> Result<Principal, AuthError> {
        let claims = self.verify(token, header).await?;
        let mapping = &self.config.claims;
        let missing = mapping.missing(&claims);
        if missing.is_empty() || self.config.userinfo == Userinfo::Never {
            return principal(mapping, &[&claims]);
        }
        tracing::debug!(?missing, "asking the identity provider's userinfo");
        let userinfo = self.userinfo(token, &claims).await?;
        principal(mapping, &[&claims, &userinfo])
    }

    async fn verify(&self, token: &str, header: &Header) -> Result<RawClaims, AuthError> {
        if matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| AuthError::UnknownKey("(none given)".into()))?;
        let jwk = self.key(&kid).await?;
        let alg = key_algorithm(&jwk).ok_or_else(|| AuthError::UnknownKey(kid.clone()))?;
        if alg != header.alg {
            return Err(AuthError::Algorithm(format!("{:?}", header.alg)));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| AuthError::Jwks(e.to_string()))?;
        let v = validation(alg, &self.config.issuer, &self.config.audience);
        jsonwebtoken::decode::<RawClaims>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(refusal)
    }

    /// The key `kid`, from the cache while fresh; an unknown id refreshes the set (keys
    /// rotate), at most once per [`JWKS_REFRESH_FLOOR`].
    async fn key(&self, kid: &str) -> Result<Jwk, AuthError> {
        let mut cache = self.cache.lock().await;
        let age = cache.fetched.map(|t| t.elapsed());
        let stale = age.is_none_or(|a| a > JWKS_TTL);
        let known = cache.keys.as_ref().and_then(|k| k.find(kid)).cloned();
        match known {
            Some(jwk) if !stale => return Ok(jwk),
            None if age.is_some_and(|a| a < self.refresh_floor) => {
                return Err(AuthError::UnknownKey(kid.to_string()))
            }
            _ => {}
        }
        let keys = match self.fetch().await {
            Ok(keys) => keys,
            Err(error) => {
                // Failed fetches are rate-limited like successful ones, and a key already
                // known stays usable while the identity provider is unreachable.
                cache.fetched = Some(Instant::now());
                if let Some(jwk) = known {
                    tracing::warn!(%error, "using the identity provider's keys fetched earlier");
                    return Ok(jwk);
                }
                return Err(error);
            }
        };
        cache.fetched = Some(Instant::now());
        let found = keys.find(kid).cloned();
        cache.keys = Some(keys);
        found.ok_or_else(|| AuthError::UnknownKey(kid.to_string()))
    }

    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let url = match &self.config.jwks_url {
            Some(url) => url.clone(),
            None => self.discover().await?.jwks_uri,
        };
        tracing::info!(%url, "fetching the identity provider's keys");
        self.get(&url).await
    }

    /// The discovery document; its userinfo endpoint is kept for [`Oidc::userinfo`].
    async fn discover(&self) -> Result<Discovery, AuthError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get(&url).await?;
        if let Some(endpoint) = &discovery.userinfo_endpoint {
            self.userinfo.lock().await.endpoint = Some(endpoint.clone());
        }
        Ok(discovery)
    }

    /// The userinfo of the person `token` (an access token) is for, from the cache while
    /// the token is valid. Its `sub`, when it has one, must be the token's (OpenID Connect
    /// Core §5.3.2): another person's answer is never mixed in.
    async fn userinfo(&self, token: &str, claims: &RawClaims) -> Result<RawClaims, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        if let Some((info, _)) = self.userinfo.lock().await.entries.get(token) {
            return Ok(info.clone());
        }
        let url = self.userinfo_url().await?;
        let info: RawClaims = self
            .http
            .get(&url)
            .bearer_auth(token)
            .timeout(USERINFO_TIMEOUT)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AuthError::Userinfo(format!("{url}: {e}")))?
            .json()
            .await
            .map_err(|e| AuthError::Userinfo(format!("{url}: {e}")))?;
        if let (Some(theirs), Some(ours)) = (info.get("sub"), claims.get("sub")) {
            if theirs != ours {
                return Err(AuthError::Claims(
                    "the userinfo's `sub` is not the token's".into(),
                ));
            }
        }
        let mut cache = self.userinfo.lock().await;
        if cache.entries.len() >= USERINFO_CACHE_ENTRIES {
            cache.entries.retain(|_, (_, exp)| *exp > now);
            if cache.entries.len() >= USERINFO_CACHE_ENTRIES {
                cache.entries.clear();
            }
        }
        cache
            .entries
            .insert(token.to_string(), (info.clone(), expires));
        Ok(info)
    }

    async fn userinfo_url(&self) -> Result<String, AuthError> {
        if let Userinfo::Url(url) = &self.config.userinfo {
            return Ok(url.clone());
        }
        if let Some(endpoint) = self.userinfo.lock().await.endpoint.clone() {
            return Ok(endpoint);
        }
        self.discover().await?.userinfo_endpoint.ok_or_else(|| {
            AuthError::Userinfo("the discovery document names no userinfo_endpoint".into())
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, AuthError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AuthError::Jwks(format!("{url}: {e}")))?;
        response
            .json()
            .await
            .map_err(|e| AuthError::Jwks(format!("{url}: {e}")))
    }
}

/// The principal of verified claims (`sources[0]`, the token's; then the userinfo's).
fn principal(mapping: &ClaimMapping, sources: &[&RawClaims]) -> Result<Principal, AuthError> {
    let token = sources
        .first()
        .ok_or_else(|| AuthError::Claims("no claims".into()))?;
    let issuer = token
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::Claims("`iss` is missing".into()))?;
    let expires_at = token
        .get("exp")
        .and_then(|e| e.as_i64().or_else(|| e.as_f64().map(|f| f as i64)))
        .ok_or_else(|| AuthError::Claims("`exp` is missing".into()))?;
    let mapped = mapping.map(sources)?;
    Ok(Principal {
        person: mapped.person,
        establishments: mapped.establishments,
        roles: mapped.roles,
        issuer: issuer.to_string(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auditors_are_listed_with_their_scope() {
        let here = Uai::from_number(750_655).expect("uai");
        let there = Uai::from_number(750_656).expect("uai");
        let auditors =
            Auditors::parse(&format!(" dpo.region , insp.dupont@{there}")).expect("parse");
        assert!(auditors.allows("dpo.region", &[here.clone(), there.clone()]));
        assert!(auditors.allows("insp.dupont", std::slice::from_ref(&there)));
        assert!(!auditors.allows("insp.dupont", &[here.clone(), there]));
        assert!(!auditors.allows("someone", &[here]));
        let error = Auditors::parse("insp@0750655X").expect_err("bad uai");
        assert!(error.contains("insp@0750655X"), "{error}");
        assert!(Auditors::parse("@0750655E").is_err());
        assert_eq!(Auditors::parse("").expect("empty"), Auditors::default());
    }

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..32).collect();
        assert_eq!(hex_decode(&hex_encode(&bytes)), Some(bytes));
        assert_eq!(hex_decode("zz"), None);
    }

    #[tokio::test]
    async fn a_dev_token_authenticates_only_where_dev_tokens_are_trusted() {
        let key = DevKey::new(vec![7; 32]);
        let uai = Uai::parse("0750655E").unwrap();
        let token = key
            .mint(
                "prof01",
                std::slice::from_ref(&uai),
                &[ClaimedRole::Teacher],
                chrono::Duration::hours(1),
            )
            .unwrap();
        let trusting = Authenticator::new(Some(key), None);
        let p = trusting
            .authenticate(Some(&format!("Bearer {token}")))
            .await
            .unwrap();
        assert_eq!(p.person, "prof01");
        assert_eq!(p.establishments, vec![uai]);
        assert_eq!(p.roles, vec![ClaimedRole::Teacher]);
        let strict = Authenticator::new(None, None);
        assert_eq!(
            strict.authenticate(Some(&format!("Bearer {token}"))).await,
            Err(AuthError::UnknownIssuer(DEV_ISSUER.into()))
        );
        assert_eq!(strict.authenticate(None).await, Err(AuthError::Missing));
    }
}
