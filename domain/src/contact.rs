//! How a guardian is reached: their e-mail address and mobile number, and what they want
//! to be told of, by which channels, in which language.
//!
//! One aggregate per guardian ([`GuardianContact`], stream `guardian_contact/{guardian}`).
//! The addresses are the guardian's personal data, sealed with their key: erasing the
//! guardian erases them, and a notification not yet sent to an erased guardian is
//! dropped. Whether a guardian may be told at all is not decided here but by the
//! student's record (the `notified` right of [`GuardianRights`]): a preference can only
//! narrow what the right allows.
//!
//! [`GuardianRights`]: crate::enrolment::GuardianRights

use std::collections::BTreeSet;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::personal::Personal;
use crate::refusal::{Lang, Refusal};

/// A way of reaching a guardian.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail to the guardian's address.
    Email,
    /// A text message, through the SMS gateway's webhook, to the guardian's mobile.
    Sms,
    /// The ENT's own notification (its timeline, its app), through its webhook, for a
    /// guardian whose ENT identifier is linked.
    Ent,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Ent => "ent",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "ent" => Some(Channel::Ent),
            _ => None,
        }
    }
}

/// What a guardian may be told of.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// An absence recorded at a roll call (or a correction that makes one).
    Absence,
    /// The month's unjustified half-days reached the threshold of article L131-8.
    Alert,
    /// Vie scolaire accepted or refused a justification.
    Justification,
    /// A mark was entered, where the establishment tells families of marks.
    Mark,
}

impl Notice {
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Absence => "absence",
            Notice::Alert => "alert",
            Notice::Justification => "justification",
            Notice::Mark => "mark",
        }
    }

    pub fn parse(s: &str) -> Option<Notice> {
        match s {
            "absence" => Some(Notice::Absence),
            "alert" => Some(Notice::Alert),
            "justification" => Some(Notice::Justification),
            "mark" => Some(Notice::Mark),
            _ => None,
        }
    }
}

/// The language of what is sent to a guardian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Fr,
    En,
}

/// What a guardian chose. Until they choose, every channel they can be reached by is
/// used, for every notice, in French.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// `None`: not chosen, every channel with an address.
    pub channels: Option<BTreeSet<Channel>>,
    /// Notices the guardian does not want.
    pub muted: BTreeSet<Notice>,
    pub language: Language,
}

impl Preferences {
    /// Whether `notice` goes out by `channel` under these preferences.
    pub fn wants(&self, channel: Channel, notice: Notice) -> bool {
        !self.muted.contains(&notice)
            && self
                .channels
                .as_ref()
                .is_none_or(|chosen| chosen.contains(&channel))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardianContact {
    pub guardian: Option<String>,
    /// Whether an address is recorded. Its value is sealed in the log and the aggregate
    /// does not keep it: a decision must not depend on whether the aggregate came from
    /// the log (sealed) or from a command just run (in clear), so every address given is
    /// recorded, even one equal to the current.
    pub has_email: bool,
    pub has_mobile: bool,
    pub preferences: Preferences,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ContactCommand {
    /// Records (or, with `None`, removes) the guardian's e-mail address and mobile
    /// number, as an import or a member of staff or the guardian gives them.
    RecordContact {
        guardian: String,
        email: Option<String>,
        mobile: Option<String>,
        by: String,
    },
    SetPreferences {
        guardian: String,
        /// `None`: every channel with an address (the default).
        channels: Option<BTreeSet<Channel>>,
        muted: BTreeSet<Notice>,
        language: Language,
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum ContactEvent {
    ContactRecorded {
        guardian: String,
        email: Option<Personal<String>>,
        mobile: Option<Personal<String>>,
        by: String,
    },
    PreferencesSet {
        guardian: String,
        channels: Option<BTreeSet<Channel>>,
        muted: BTreeSet<Notice>,
        language: Language,
        by: String,
    },
}

impl DomainEvent for ContactEvent {
    fn event_type(&self) -> String {
        match self {
            ContactEvent::ContactRecorded { .. } => "ContactRecorded",
            ContactEvent::PreferencesSet { .. } => "PreferencesSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    #[error("cette fiche est celle de {expected}, pas de {given}")]
    WrongGuardian { expected: String, given: String },
    #[error("le responsable légal n'est pas indiqué")]
    MissingGuardian,
    #[error("`{0}` n'est pas une adresse électronique (attendu : nom@domaine, sans espace)")]
    BadEmail(String),
    #[error(
        "`{0}` n'est pas un numéro de portable (attendu : 06 12 34 56 78 ou +33 6 12 34 56 78)"
    )]
    BadMobile(String),
    #[error("rien ne change : la fiche du responsable légal indique déjà cela")]
    Unchanged,
}

impl ContactError {
    /// A stable, language-free code for this refusal (the same as [`Refusal::rule`]).
    pub fn code(&self) -> &'static str {
        self.rule()
    }
}

impl Refusal for ContactError {
    fn rule(&self) -> &'static str {
        match self {
            ContactError::WrongGuardian { .. } => "WRONG_GUARDIAN",
            ContactError::MissingGuardian => "MISSING_GUARDIAN",
            ContactError::BadEmail(_) => "BAD_EMAIL",
            ContactError::BadMobile(_) => "BAD_MOBILE",
            ContactError::Unchanged => "CONTACT_UNCHANGED",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::Fr, _) => self.to_string(),
            (Lang::En, ContactError::WrongGuardian { expected, given }) => {
                format!("this record is for {expected}, not {given}")
            }
            (Lang::En, ContactError::MissingGuardian) => "the guardian is missing".to_string(),
            (Lang::En, ContactError::BadEmail(value)) => {
                format!("`{value}` is not an e-mail address (expected name@domain, without spaces)")
            }
            (Lang::En, ContactError::BadMobile(value)) => format!(
                "`{value}` is not a mobile number (expected 06 12 34 56 78 or +33 6 12 34 56 78)"
            ),
            (Lang::En, ContactError::Unchanged) => {
                "nothing changes: the guardian's record already says this".to_string()
            }
        }
    }
}

/// Longest address SMTP carries (RFC 5321: 64 + 1 + 255).
const MAX_EMAIL: usize = 320;

/// `raw` as an address to send to, trimmed; refused unless it has one `@` with a local
/// part and a dotted domain, and no spaces or control characters (which would let a
/// value inject headers). Deliverability is the mail server's to judge.
pub fn normalise_email(raw: &str) -> Result<String, ContactError> {
    let email = raw.trim();
    let bad = || ContactError::BadEmail(raw.to_string());
    if email.len() > MAX_EMAIL || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let dotted = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-'));
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || !dotted
        || email.contains(['<', '>', ',', ';', '"', '\\'])
    {
        return Err(bad());
    }
    Ok(email.to_string())
}

/// `raw` in E.164 (`+33612345678`): a French number as people write it (`06 12 34 56
/// 78`, `06.12.34.56.78`, `+33 (0)6 ...`, `0033 6 ...`), or any number given with its
/// `+` and country code. A French number must be a mobile one (06, 07): a text message
/// cannot reach a landline.
pub fn normalise_mobile(raw: &str) -> Result<String, ContactError> {
    let bad = || ContactError::BadMobile(raw.to_string());
    let kept: String = raw
        .trim()
        .replace("(0)", "")
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '/' | '\u{a0}'))
        .collect();
    let international = if let Some(rest) = kept.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = kept.strip_prefix('0') {
        format!("+33{rest}")
    } else {
        kept
    };
    let digits = international.strip_prefix('+').ok_or_else(bad)?;
    if !digits.chars().all(|c| c.is_ascii_digit()) || !(8..=15).contains(&digits.len()) {
        return Err(bad());
    }
    if let Some(national) = digits.strip_prefix("33") {
        if national.len() != 9 || !(national.starts_with('6') || national.starts_with('7')) {
            return Err(bad());
        }
    }
    Ok(international)
}

impl GuardianContact {
    fn check_guardian(&self, guardian: &str) -> Result<(), ContactError> {
        if guardian.trim().is_empty() {
            return Err(ContactError::MissingGuardian);
        }
        match &self.guardian {
            Some(expected) if expected != guardian => Err(ContactError::WrongGuardian {
                expected: expected.clone(),
                given: guardian.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// The event a command makes, or why it is refused.
    pub fn decide(&self, command: ContactCommand) -> Result<ContactEvent, ContactError> {
        match command {
            ContactCommand::RecordContact {
                guardian,
                email,
                mobile,
                by,
            } => {
                self.check_guardian(&guardian)?;
                let email = email
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| normalise_email(&e))
                    .transpose()?;
                let mobile = mobile
                    .filter(|m| !m.trim().is_empty())
                    .map(|m| normalise_mobile(&m))
                    .transpose()?;
                if email.is_none() && mobile.is_none() && !self.has_email && !self.has_mobile {
                    return Err(ContactError::Unchanged);
                }
                Ok(ContactEvent::ContactRecorded {
                    email: email.map(|e| Personal::known(guardian.clone(), e)),
                    mobile: mobile.map(|m| Personal::known(guardian.clone(), m)),
                    guardian,
                    by,
                })
            }
            ContactCommand::SetPreferences {
                guardian,
                channels,
                muted,
                language,
                by,
            } => {
                self.check_guardian(&guardian)?;
                let wanted = Preferences {
                    channels,
                    muted,
                    language,
                };
                if self.guardian.is_some() && wanted == self.preferences {
                    return Err(ContactError::Unchanged);
                }
                Ok(ContactEvent::PreferencesSet {
                    guardian,
                    channels: wanted.channels,
                    muted: wanted.muted,
                    language: wanted.language,
                    by,
                })
            }
        }
    }
}

impl Aggregate for GuardianContact {
    const TYPE: &'static str = "guardian_contact";
    type Command = ContactCommand;
    type Event = ContactEvent;
    type Error = ContactError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ContactCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ContactError> {
        match self.decide(command) {
            Ok(event) => sink.write(event, self).await,
            // Already so: the command succeeds and records nothing.
            Err(ContactError::Unchanged) => {}
            Err(refused) => return Err(refused),
        }
        Ok(())
    }

    fn apply(&mut self, event: ContactEvent) {
        match event {
            ContactEvent::ContactRecorded {
                guardian,
                email,
                mobile,
                ..
            } => {
                self.guardian = Some(guardian);
                self.has_email = email.is_some();
                self.has_mobile = mobile.is_some();
            }
            ContactEvent::PreferencesSet {
                guardian,
                channels,
                muted,
                language,
                ..
            } => {
                self.guardian = Some(guardian);
                self.preferences = Preferences {
                    channels,
                    muted,
                    language,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(email: Option<&str>, mobile: Option<&str>) -> ContactCommand {
        ContactCommand::RecordContact {
            guardian: "siecle-resp-42".into(),
            email: email.map(str::to_string),
            mobile: mobile.map(str::to_string),
            by: "secretariat".into(),
        }
    }

    #[test]
    fn addresses_are_normalised_and_sealed_under_the_guardian() {
        let event = GuardianContact::default()
            .decide(record(
                Some(" helene.durand@exemple.fr "),
                Some("06 12 34 56 78"),
            ))
            .unwrap();
        let ContactEvent::ContactRecorded { email, mobile, .. } = event else {
            panic!("{event:?}")
        };
        let email = email.unwrap();
        assert_eq!(email.owner(), "siecle-resp-42");
        assert_eq!(email.in_clear().unwrap(), "helene.durand@exemple.fr");
        assert_eq!(mobile.unwrap().in_clear().unwrap(), "+33612345678");
    }

    #[test]
    fn french_mobiles_are_read_as_people_write_them() {
        for raw in [
            "0612345678",
            "06.12.34.56.78",
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
        ] {
            assert_eq!(normalise_mobile(raw).unwrap(), "+33612345678", "{raw}");
        }
        assert_eq!(normalise_mobile("07 00 00 00 01").unwrap(), "+33700000001");
        assert_eq!(
            normalise_mobile("+32 470 12 34 56").unwrap(),
            "+32470123456"
        );
        for bad in [
            "01 45 67 89 10",
            "06 12 34",
            "+33 6 12 34 56 78 9",
            "abc",
            "612345678",
        ] {
            assert!(
                matches!(normalise_mobile(bad), Err(ContactError::BadMobile(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_address_that_could_inject_a_header_is_refused() {
        for bad in [
            "a@b",
            "@exemple.fr",
            "a b@exemple.fr",
            "a@exemple.fr\r\nBcc: x@y.fr",
            "a@@exemple.fr",
            "<a@exemple.fr>",
            "a@exemple..fr",
        ] {
            assert!(
                matches!(normalise_email(bad), Err(ContactError::BadEmail(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn removing_addresses_there_are_none_of_changes_nothing() {
        let mut contact = GuardianContact::default();
        assert_eq!(
            contact.decide(record(None, Some(" "))),
            Err(ContactError::Unchanged)
        );
        let event = contact.decide(record(Some("a@exemple.fr"), None)).unwrap();
        contact.apply(event);
        assert!(contact.has_email && !contact.has_mobile);
        let removal = contact.decide(record(None, None)).unwrap();
        contact.apply(removal);
        assert!(!contact.has_email);
    }

    #[test]
    fn preferences_narrow_the_channels_and_mute_notices() {
        let mut contact = GuardianContact::default();
        assert!(contact.preferences.wants(Channel::Sms, Notice::Absence));
        let event = contact
            .decide(ContactCommand::SetPreferences {
                guardian: "siecle-resp-42".into(),
                channels: Some([Channel::Email].into()),
                muted: [Notice::Justification].into(),
                language: Language::En,
                by: "siecle-resp-42".into(),
            })
            .unwrap();
        contact.apply(event);
        let p = &contact.preferences;
        assert!(p.wants(Channel::Email, Notice::Absence));
        assert!(!p.wants(Channel::Sms, Notice::Absence));
        assert!(!p.wants(Channel::Email, Notice::Justification));
        assert_eq!(p.language, Language::En);
    }

    #[test]
    fn a_record_is_for_one_guardian() {
        let mut contact = GuardianContact::default();
        contact.apply(contact.decide(record(Some("a@exemple.fr"), None)).unwrap());
        let other = ContactCommand::RecordContact {
            guardian: "siecle-resp-43".into(),
            email: None,
            mobile: None,
            by: "x".into(),
        };
        assert!(matches!(
            contact.decide(other),
            Err(ContactError::WrongGuardian { .. })
        ));
    }
}
