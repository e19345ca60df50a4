//! The trusted identity providers (one per académie or ENT) and how each one's claims
//! become Carnet's person, establishments and roles.
//!
//! Carnet's own tokens say `sub` (Carnet's person id), `uai` and `roles` (Carnet's role
//! names). An ENT says what it knows instead. What Open ENT NG (`edificeio/entcore`)
//! sends, read in its `auth` module:
//! - its OpenID Connect userinfo (`auth/.../adapter/UserInfoAdapterOpenIdConnectV1_0.java`)
//!   has only the standard claims, with `sub` set to the user's `externalId` (the AAF
//!   jointure id), plus `name`, `given_name`, `family_name`, `email`, `birthdate`;
//! - its JSON userinfo (`auth/.../adapter/UserInfoAdapterV1_0Json.java`, also V2.x and
//!   V3.0) is the session: `externalId`, `userId`, `type` (one profile, renamed
//!   `ENSEIGNANT`, `ELEVE`, `PERSRELELEVE`, `PERSEDUCNAT`), `uai` (the list of the UAIs
//!   of the user's structures: `COLLECT(distinct s.UAI) as uai` in the session query)
//!   and `structures` (internal ids; in V3.0 `structureNodes`, a list of objects);
//! - its SAML/CAS side (`auth/.../services/SamlServiceProvider.java` and the SSO
//!   providers) speaks the SDET attributes `ENTPersonProfils` (`National_ELV`,
//!   `National_ENS`...) and `ENTPersonStructRattachRNE` (a UAI).
//!
//! So a mapping names the claim (or userinfo field) of each of the three, accepts the
//! establishments as a string, a list of strings or a list of objects (the UAI taken from
//! one of their fields), and maps profiles through a table: the national profiles by
//! default, any other value (`ENSEIGNANT`) added by the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use carnet_domain::Uai;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::{AuthError, ClaimedRole, OidcConfig, DEFAULT_AUDIENCE, DEV_ISSUER};

/// The national profiles of the SDET (`ENTPersonProfils`) and the roles they claim. Staff
/// roles are claims only: the establishment's record decides which one a person holds
/// (see `access::Actor::resolve`), so a profile that covers several trades claims each.
const NATIONAL_PROFILES: [(&str, &[ClaimedRole]); 6] = [
    ("National_ELV", &[ClaimedRole::Student]),
    ("National_TUT", &[ClaimedRole::Guardian]),
    ("National_ENS", &[ClaimedRole::Teacher]),
    // Personnels de vie scolaire: CPE and assistants d'éducation alike; the record says
    // which, so neither gets the other's rights.
    ("National_EVS", &[ClaimedRole::Cpe, ClaimedRole::Aed]),
    ("National_DIR", &[ClaimedRole::Principal]),
    // Professeurs documentalistes are teachers by status but teach no class of their own,
    // and Carnet has no role for the CDI: they act as nobody unless a file maps them.
    ("National_DOC", &[]),
];

/// Where an issuer's userinfo endpoint is, if Carnet may ask it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Userinfo {
    /// Never asked: what the token lacks is missing.
    #[default]
    Never,
    /// The `userinfo_endpoint` of the issuer's discovery document.
    Discovery,
    Url(String),
}

/// Which claim (or userinfo field) carries what, for one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The person's identifier (`sub`; Open ENT NG's JSON userinfo: `externalId`).
    pub person: String,
    /// The establishments: a UAI, a list of UAIs, or a list of objects.
    pub establishments: String,
    /// In a list of objects, the field holding the UAI (by default `UAI` or `uai`).
    pub establishment_field: Option<String>,
    /// The profile(s): a string or a list of strings, each looked up in `roles`.
    pub profiles: String,
    /// Profile value → Carnet roles; values not listed are ignored.
    pub roles: BTreeMap<String, Vec<ClaimedRole>>,
}

impl Default for ClaimMapping {
    /// Carnet's own claims: `sub`, `uai`, `roles`.
    fn default() -> Self {
        ClaimMapping {
            person: "sub".into(),
            establishments: "uai".into(),
            establishment_field: None,
            profiles: "roles".into(),
            roles: default_roles(),
        }
    }
}

/// Carnet's role names as themselves, and the national profiles.
pub fn default_roles() -> BTreeMap<String, Vec<ClaimedRole>> {
    let own = ClaimedRole::ALL
        .into_iter()
        .map(|r| (r.as_str().to_string(), vec![r]));
    let national = NATIONAL_PROFILES
        .into_iter()
        .map(|(p, roles)| (p.to_string(), roles.to_vec()));
    own.chain(national).collect()
}

/// A token's claims mapped: who, where, as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapped {
    pub person: String,
    pub establishments: Vec<Uai>,
    pub roles: Vec<ClaimedRole>,
}

/// The first of `sources` (the token, then the userinfo) that has `name`.
fn lookup<'a>(sources: &[&'a Map<String, Value>], name: &str) -> Option<&'a Value> {
    sources
        .iter()
        .find_map(|s| s.get(name).filter(|v| !v.is_null()))
}

impl ClaimMapping {
    /// The claims this mapping reads that `claims` lacks (then asked of the userinfo).
    pub(crate) fn missing(&self, claims: &Map<String, Value>) -> Vec<&str> {
        [&self.person, &self.establishments, &self.profiles]
            .into_iter()
            .filter(|name| lookup(&[claims], name).is_none())
            .map(String::as_str)
            .collect()
    }

    pub(crate) fn map(&self, sources: &[&Map<String, Value>]) -> Result<Mapped, AuthError> {
        Ok(Mapped {
            person: self.person(sources)?,
            establishments: self.establishments(sources)?,
            roles: self.roles(sources),
        })
    }

    fn person(&self, sources: &[&Map<String, Value>]) -> Result<String, AuthError> {
        let name = &self.person;
        let person = match lookup(sources, name) {
            None => return Err(AuthError::Claims(format!("`{name}` is missing"))),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(AuthError::Claims(format!("`{name}` is not a string"))),
        };
        if person.is_empty() {
            return Err(AuthError::Claims(format!("`{name}` is empty")));
        }
        Ok(person)
    }

    fn establishments(&self, sources: &[&Map<String, Value>]) -> Result<Vec<Uai>, AuthError> {
        let name = &self.establishments;
        let texts = match lookup(sources, name) {
            None => return Err(AuthError::Claims(format!("`{name}` is missing"))),
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many
                .iter()
                .map(|v| self.establishment(v))
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(AuthError::Claims(format!(
                    "`{name}` is neither a UAI nor a list"
                )))
            }
        };
        let mut establishments = Vec::new();
        for text in texts {
            let uai = Uai::parse(text).map_err(|e| AuthError::Claims(format!("{name}: {e}")))?;
            if !establishments.contains(&uai) {
                establishments.push(uai);
            }
        }
        if establishments.is_empty() {
            return Err(AuthError::Claims(format!(
                "`{name}` names no establishment"
            )));
        }
        Ok(establishments)
    }

    /// One item of the establishments' list: a UAI, or an object holding one.
    fn establishment<'a>(&self, item: &'a Value) -> Result<&'a str, AuthError> {
        let name = &self.establishments;
        match item {
            Value::String(uai) => Ok(uai),
            Value::Object(object) => {
                let fields = match &self.establishment_field {
                    Some(field) => vec![field.as_str()],
                    None => vec!["UAI", "uai"],
                };
                fields
                    .iter()
                    .find_map(|f| object.get(*f).and_then(Value::as_str))
                    .ok_or_else(|| {
                        AuthError::Claims(format!(
                            "an item of `{name}` has no `{}` field",
                            fields.join("` or `")
                        ))
                    })
            }
            _ => Err(AuthError::Claims(format!(
                "an item of `{name}` is neither a UAI nor an object"
            ))),
        }
    }

    /// The roles of the profiles; unknown profiles are ignored (an ENT has more of them
    /// than Carnet has roles), and a token whose profiles map to none acts as nobody.
    fn roles(&self, sources: &[&Map<String, Value>]) -> Vec<ClaimedRole> {
        let profiles: Vec<&str> = match lookup(sources, &self.profiles) {
            Some(Value::String(one)) => vec![one],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut roles = Vec::new();
        for profile in profiles {
            match self.roles.get(profile) {
                Some(mapped) => {
                    for role in mapped {
                        if !roles.contains(role) {
                            roles.push(*role);
                        }
                    }
                }
                None => tracing::debug!(profile, "a profile Carnet does not map is ignored"),
            }
        }
        roles
    }
}

/// A configuration file Carnet refuses to start with: the file, the issuer and the field
/// are named.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not a `source`: the message says it already, and chains would say it twice.
    #[error("{file}: {error}")]
    Read { file: String, error: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: no issuer: write one `[[issuer]]` table per trusted issuer")]
    NoIssuer { file: String },
    /// A field of the table that does not read (its type, or a field Carnet does not know,
    /// named by the message).
    #[error("{file}: issuer `{issuer}`: {problem}")]
    Entry {
        file: String,
        issuer: String,
        problem: String,
    },
    #[error("{file}: issuer `{issuer}`: `{field}`: {problem}")]
    Field {
        file: String,
        issuer: String,
        field: String,
        problem: String,
    },
}

/// One `[[issuer]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    issuer: String,
    audience: Option<String>,
    jwks_url: Option<String>,
    userinfo: Option<String>,
    person: Option<String>,
    establishments: Option<String>,
    establishment_field: Option<String>,
    profiles: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, RoleNames>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RoleNames {
    One(String),
    Many(Vec<String>),
}

/// The issuers of the file at `path`.
pub fn load(path: &Path) -> Result<Vec<OidcConfig>, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        file: file.clone(),
        error,
    })?;
    parse(&file, &text)
}

/// The issuers of `text`, read from `file` (named in errors).
pub fn parse(file: &str, text: &str) -> Result<Vec<OidcConfig>, ConfigError> {
    let syntax = |message: String| ConfigError::Syntax {
        file: file.to_string(),
        message,
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| syntax(e.to_string()))?;
    let entries = match table.remove("issuer") {
        None => return Err(ConfigError::NoIssuer { file: file.into() }),
        Some(toml::Value::Array(entries)) => entries,
        Some(_) => return Err(syntax("`issuer` must be `[[issuer]]` tables".into())),
    };
    if let Some(other) = table.keys().next() {
        return Err(syntax(format!(
            "unknown key `{other}`: only `[[issuer]]` tables"
        )));
    }
    if entries.is_empty() {
        return Err(ConfigError::NoIssuer { file: file.into() });
    }
    let mut issuers: Vec<OidcConfig> = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let config = issuer(file, index, entry)?;
        if issuers.iter().any(|i| i.issuer == config.issuer) {
            return Err(field_error(file, &config.issuer, "issuer", "listed twice"));
        }
        issuers.push(config);
    }
    Ok(issuers)
}

fn field_error(file: &str, issuer: &str, field: &str, problem: &str) -> ConfigError {
    ConfigError::Field {
        file: file.into(),
        issuer: issuer.into(),
        field: field.into(),
        problem: problem.into(),
    }
}

/// The `index`th `[[issuer]]` table, checked.
fn issuer(file: &str, index: usize, entry: toml::Value) -> Result<OidcConfig, ConfigError> {
    // Named by its `issuer` when it has one, for the errors of its other fields.
    let name = entry
        .get("issuer")
        .and_then(toml::Value::as_str)
        .map_or_else(|| format!("#{}", index + 1), str::to_string);
    let entry = IssuerEntry::deserialize(entry).map_err(|e| ConfigError::Entry {
        file: file.into(),
        issuer: name.clone(),
        problem: e.message().to_string(),
    })?;
    let fail = |field: &str, problem: &str| field_error(file, &name, field, problem);
    let issuer = entry.issuer.trim().to_string();
    if issuer.is_empty() {
        return Err(fail("issuer", "is empty"));
    }
    if issuer == DEV_ISSUER {
        return Err(fail("issuer", "is the development tokens' issuer"));
    }
    let audience = entry.audience.unwrap_or_else(|| DEFAULT_AUDIENCE.into());
    if audience.trim().is_empty() {
        return Err(fail("audience", "is empty"));
    }
    if let Some(url) = &entry.jwks_url {
        check_url(url).map_err(|p| fail("jwks_url", &p))?;
    }
    let userinfo = match entry.userinfo.as_deref() {
        None => Userinfo::Never,
        Some("discovery") => Userinfo::Discovery,
        Some(url) => {
            check_url(url).map_err(|p| fail("userinfo", &format!("{p}, or `discovery`")))?;
            Userinfo::Url(url.to_string())
        }
    };
    let defaults = ClaimMapping::default();
    let claim = |field: &str, value: Option<String>, default: String| match value {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Err(fail(field, "names no claim")),
        Some(v) => Ok(v.trim().to_string()),
    };
    let mut roles = defaults.roles;
    for (profile, names) in entry.roles {
        let names = match names {
            RoleNames::One(one) => vec![one],
            RoleNames::Many(many) => many,
        };
        let mapped = names
            .iter()
            .map(|n| {
                ClaimedRole::parse(n).ok_or_else(|| {
                    fail(
                        &format!("roles.{profile}"),
                        &format!("`{n}` is not a Carnet role ({})", role_names()),
                    )
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        roles.insert(profile, mapped.into_iter().collect());
    }
    Ok(OidcConfig {
        audience,
        jwks_url: entry.jwks_url,
        userinfo,
        claims: ClaimMapping {
            person: claim("person", entry.person, defaults.person)?,
            establishments: claim(
                "establishments",
                entry.establishments,
                defaults.establishments,
            )?,
            establishment_field: entry
                .establishment_field
                .map(|f| claim("establishment_field", Some(f), String::new()))
                .transpose()?,
            profiles: claim("profiles", entry.profiles, defaults.profiles)?,
            roles,
        },
        issuer,
    })
}

fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http(s) URL"))
    }
}

fn role_names() -> String {
    ClaimedRole::ALL.map(ClaimedRole::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(text: &str) -> String {
        parse("ent.toml", text).expect_err("refused").to_string()
    }

    #[test]
    fn a_full_file_is_read() {
        let issuers = parse(
            "ent.toml",
            r#"
            [[issuer]]
            issuer = "https://ent.example.fr"
            audience = "carnet-idf"
            userinfo = "discovery"
            person = "externalId"
            establishments = "structureNodes"
            establishment_field = "UAI"
            profiles = "type"
            roles = { ENSEIGNANT = "teacher", PERSEDUCNAT = [], National_DOC = ["teacher"] }

            [[issuer]]
            issuer = "https://auth.carnet.example.fr"
            jwks_url = "https://auth.carnet.example.fr/keys"
            "#,
        )
        .expect("parse");
        assert_eq!(issuers.len(), 2);
        let ent = &issuers[0];
        assert_eq!(ent.audience, "carnet-idf");
        assert_eq!(ent.userinfo, Userinfo::Discovery);
        assert_eq!(ent.claims.person, "externalId");
        assert_eq!(ent.claims.establishment_field.as_deref(), Some("UAI"));
        assert_eq!(ent.claims.roles["ENSEIGNANT"], vec![ClaimedRole::Teacher]);
        assert_eq!(ent.claims.roles["PERSEDUCNAT"], vec![]);
        assert_eq!(ent.claims.roles["National_DOC"], vec![ClaimedRole::Teacher]);
        assert_eq!(ent.claims.roles["National_ELV"], vec![ClaimedRole::Student]);
        let own = &issuers[1];
        assert_eq!(own.audience, DEFAULT_AUDIENCE);
        assert_eq!(own.claims, ClaimMapping::default());
        assert_eq!(own.userinfo, Userinfo::Never);
    }

    #[test]
    fn bad_files_are_refused_naming_the_file_the_issuer_and_the_field() {
        let cases = [
            ("", "no issuer"),
            ("issuer = 3", "`issuer` must be `[[issuer]]` tables"),
            ("[[issuer]]\nissuer = \"https://a\"\n[other]\n", "unknown key `other`"),
            ("[[issuer]\n", "ent.toml: TOML parse error"),
            (
                "[[issuer]]\nissuer = \"https://a\"\nroles = { National_ENS = \"teacher\", X = \"prof\" }",
                "ent.toml: issuer `https://a`: `roles.X`: `prof` is not a Carnet role",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\nprofiles = [\"type\"]",
                "ent.toml: issuer `https://a`: invalid type",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\nperson = \" \"",
                "ent.toml: issuer `https://a`: `person`: names no claim",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\nuserinfo = \"ftp://x\"",
                "ent.toml: issuer `https://a`: `userinfo`: `ftp://x` is not an http(s) URL, or `discovery`",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\njwks_url = \"keys.json\"",
                "ent.toml: issuer `https://a`: `jwks_url`: `keys.json` is not an http(s) URL",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\naudiance = \"carnet\"",
                "ent.toml: issuer `https://a`: unknown field `audiance`",
            ),
            (
                "[[issuer]]\naudience = \"carnet\"",
                "ent.toml: issuer `#1`: missing field `issuer`",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\n[[issuer]]\nissuer = \"https://a\"",
                "ent.toml: issuer `https://a`: `issuer`: listed twice",
            ),
            (
                "[[issuer]]\nissuer = \"carnet-dev\"",
                "`issuer`: is the development tokens' issuer",
            ),
            (
                "[[issuer]]\nissuer = \"https://a\"\naudience = \"\"",
                "ent.toml: issuer `https://a`: `audience`: is empty",
            ),
        ];
        for (text, expected) in cases {
            let message = refused(text);
            assert!(message.contains(expected), "{text:?}: {message}");
            assert!(message.starts_with("ent.toml: "), "{text:?}: {message}");
        }
    }

    #[test]
    fn the_example_of_the_documentation_is_read() {
        let doc = include_str!("../../docs/ent.md");
        let example = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a TOML example in docs/ent.md");
        let issuers = parse("docs/ent.md", example).expect("the example is valid");
        assert_eq!(issuers.len(), 2);
        assert_eq!(
            issuers[0].claims.roles["PERSRELELEVE"],
            vec![ClaimedRole::Guardian]
        );
        assert!(matches!(issuers[0].userinfo, Userinfo::Url(_)));
        assert_eq!(
            issuers[1].claims.establishment_field.as_deref(),
            Some("UAI")
        );
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = load(Path::new("/no/such/ent.toml")).expect_err("missing");
        assert!(
            error.to_string().starts_with("/no/such/ent.toml: "),
            "{error}"
        );
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn establishments_come_as_a_string_a_list_or_objects() {
        let mapping = ClaimMapping::default();
        for uai in [
            json!("0750655E"),
            json!(["0750655E", "0750655E"]),
            json!([{"UAI": "0750655E", "name": "Lycée"}]),
            json!([{"uai": "0750655E"}]),
        ] {
            let token = claims(json!({"sub": "p", "uai": uai}));
            let mapped = mapping.map(&[&token]).expect("mapped");
            assert_eq!(
                mapped.establishments,
                vec![Uai::parse("0750655E").expect("uai")]
            );
        }
        let token = claims(json!({"sub": "p", "uai": [{"id": "x"}]}));
        assert_eq!(
            mapping.map(&[&token]),
            Err(AuthError::Claims(
                "an item of `uai` has no `UAI` or `uai` field".into()
            ))
        );
        let token = claims(json!({"sub": "p", "uai": []}));
        assert_eq!(
            mapping.map(&[&token]),
            Err(AuthError::Claims("`uai` names no establishment".into()))
        );
    }

    #[test]
    fn national_profiles_map_to_roles_and_others_are_ignored() {
        let mapping = ClaimMapping {
            profiles: "ENTPersonProfils".into(),
            ..ClaimMapping::default()
        };
        let cases: [(&str, &[ClaimedRole]); 8] = [
            ("National_ELV", &[ClaimedRole::Student]),
            ("National_TUT", &[ClaimedRole::Guardian]),
            ("National_ENS", &[ClaimedRole::Teacher]),
            ("National_EVS", &[ClaimedRole::Cpe, ClaimedRole::Aed]),
            ("National_DIR", &[ClaimedRole::Principal]),
            ("National_DOC", &[]),
            ("National_COL", &[]),
            ("ENSEIGNANT", &[]),
        ];
        for (profile, roles) in cases {
            let token =
                claims(json!({"sub": "p", "uai": "0750655E", "ENTPersonProfils": [profile]}));
            let mapped = mapping.map(&[&token]).expect("mapped");
            assert_eq!(mapped.roles, roles, "{profile}");
        }
    }

    #[test]
    fn what_the_token_lacks_is_taken_from_the_userinfo() {
        let mapping = ClaimMapping {
            person: "externalId".into(),
            profiles: "type".into(),
            ..ClaimMapping::default()
        };
        let token = claims(json!({"sub": "abc", "uai": "0750655E"}));
        assert_eq!(mapping.missing(&token), vec!["externalId", "type"]);
        let userinfo =
            claims(json!({"externalId": "ext-1", "type": "National_ENS", "uai": "0690026D"}));
        let mapped = mapping.map(&[&token, &userinfo]).expect("mapped");
        assert_eq!(mapped.person, "ext-1");
        // The token's own claim comes first.
        assert_eq!(
            mapped.establishments,
            vec![Uai::parse("0750655E").expect("uai")]
        );
        assert_eq!(mapped.roles, vec![ClaimedRole::Teacher]);
    }
}
