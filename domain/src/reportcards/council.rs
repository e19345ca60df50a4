//! The report cards of one division for one period, as its class council prepares them:
//! the teachers' appreciations per subject, the professeur principal's general one, the
//! CPE's vie scolaire one, positionings the teachers override, the council's decisions,
//! the end-of-cycle assessment of the socle, then the closing, the publication to
//! families and each bulletin issued with its verification code.
//!
//! One aggregate per division and period (stream `{year}/{division}/{period}`): the
//! closing locks every student's report at once, under the store's optimistic
//! concurrency. Who may write what depends on the establishment's staff and services:
//! the caller copies them into each command as a [`Team`] (as the calendar is copied
//! into timetable commands), read from the establishment's aggregate, not a read model.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::socle::{Component, Cycle};
use crate::grades::Level;
use crate::personal::Personal;
use crate::refusal::{Lang, Refusal};

/// The longest texts the LSU accepts (characters), from its import schema (version
/// 10.0): a subject's appreciation and the general one 1000, the CPE's 600, the
/// synthesis of the bilan de fin de cycle 1500.
pub const SUBJECT_APPRECIATION_MAX: usize = 1000;
pub const GENERAL_APPRECIATION_MAX: usize = 1000;
pub const VIE_SCOLAIRE_APPRECIATION_MAX: usize = 600;
pub const SYNTHESIS_MAX: usize = 1500;

/// Who may write on this division's report cards, as the establishment knows them when
/// the command is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub division: String,
    pub period: String,
    /// Per subject code: the teachers who teach it to the division or one of its groups.
    pub teachers: BTreeMap<String, BTreeSet<String>>,
    /// The division's professeurs principaux.
    pub principal_teachers: BTreeSet<String>,
    /// The CPEs.
    pub cpes: BTreeSet<String>,
    /// The head and deputies (chef d'établissement, adjoints).
    pub heads: BTreeSet<String>,
}

impl Team {
    fn teaches(&self, subject: &str, person: &str) -> bool {
        self.teachers
            .get(subject)
            .is_some_and(|t| t.contains(person))
    }

    fn leads(&self, person: &str) -> bool {
        self.principal_teachers.contains(person) || self.heads.contains(person)
    }
}

/// What an appreciation is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// A subject (its code), by a teacher of that subject.
    Subject(String),
    /// The general appreciation, by a professeur principal (or the head).
    General,
    /// The vie scolaire appreciation, by a CPE.
    VieScolaire,
    /// The synthesis of the bilan de fin de cycle, by a professeur principal (or the head).
    CycleSynthesis,
}

impl Topic {
    /// The longest text the LSU accepts for it.
    pub fn max_length(&self) -> usize {
        match self {
            Topic::Subject(_) => SUBJECT_APPRECIATION_MAX,
            Topic::General => GENERAL_APPRECIATION_MAX,
            Topic::VieScolaire => VIE_SCOLAIRE_APPRECIATION_MAX,
            Topic::CycleSynthesis => SYNTHESIS_MAX,
        }
    }

    fn fr(&self) -> String {
        match self {
            Topic::Subject(s) => format!("l'appréciation de {s}"),
            Topic::General => "l'appréciation générale".to_string(),
            Topic::VieScolaire => "l'appréciation de vie scolaire".to_string(),
            Topic::CycleSynthesis => "la synthèse du bilan de fin de cycle".to_string(),
        }
    }

    fn en(&self) -> String {
        match self {
            Topic::Subject(s) => format!("the appreciation of {s}"),
            Topic::General => "the general appreciation".to_string(),
            Topic::VieScolaire => "the vie scolaire appreciation".to_string(),
            Topic::CycleSynthesis => "the end-of-cycle synthesis".to_string(),
        }
    }
}

/// A decision of the class council about a student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Decision {
    Felicitations,
    Compliments,
    Encouragements,
    /// Mise en garde pour le travail.
    WarningWork,
    /// Mise en garde pour le comportement.
    WarningConduct,
}

impl Decision {
    pub fn label_fr(self) -> &'static str {
        match self {
            Decision::Felicitations => "Félicitations du conseil de classe",
            Decision::Compliments => "Compliments du conseil de classe",
            Decision::Encouragements => "Encouragements du conseil de classe",
            Decision::WarningWork => "Mise en garde pour le travail",
            Decision::WarningConduct => "Mise en garde pour le comportement",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Decision::Felicitations => "Congratulations of the class council",
            Decision::Compliments => "Compliments of the class council",
            Decision::Encouragements => "Encouragement of the class council",
            Decision::WarningWork => "Warning about work",
            Decision::WarningConduct => "Warning about conduct",
        }
    }

    fn praises(self) -> bool {
        matches!(
            self,
            Decision::Felicitations | Decision::Compliments | Decision::Encouragements
        )
    }
}

/// A text and who wrote it, with every text it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The student's personal data (an appreciation judges a person).
    pub text: Personal<String>,
    pub by: String,
    pub previous: Vec<Personal<String>>,
}

/// A teacher's positioning of a student in a subject, over the computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub level: Level,
    /// What the rule gave when the teacher overrode it.
    pub computed: Option<Level>,
    pub by: String,
}

/// The bilan de fin de cycle of a student.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndOfCycle {
    pub cycle: Cycle,
    pub levels: BTreeMap<Component, Level>,
    pub by: String,
}

/// A bulletin given out with its verification code, and what it was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub code: String,
    /// The streams the bulletin was made from (`type/id`), the position of the latest
    /// of their events it read, and the SHA-256 (hex) of the hash of each stream's last
    /// event read: the log as the bulletin saw it.
    pub sources: Vec<String>,
    pub position: i64,
    pub event_hash: String,
    /// SHA-256 of the PDF file, hex.
    pub digest: String,
    /// The date printed on it (the same file is given again on later days).
    pub issued_on: NaiveDate,
}

/// One student's report for the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StudentReport {
    pub appreciations: BTreeMap<String, Written>,
    pub general: Option<Written>,
    pub vie_scolaire: Option<Written>,
    pub positionings: BTreeMap<String, Override>,
    pub decisions: BTreeSet<Decision>,
    pub end_of_cycle: Option<EndOfCycle>,
    pub synthesis: Option<Written>,
    pub issued: Vec<Issued>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCouncil {
    pub division: Option<String>,
    pub period: Option<String>,
    pub students: BTreeMap<String, StudentReport>,
    /// The council has met: nothing changes until the head reopens it.
    pub closed: bool,
    /// Families and students see the bulletins from this day.
    pub published_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CouncilCommand {
    /// Writes or corrects an appreciation (an empty text is refused: write a new one).
    Appreciate {
        student: String,
        topic: Topic,
        text: String,
        by: String,
        team: Team,
    },
    /// Sets the teacher's positioning of a subject, or (`None`) goes back to the rule's.
    Position {
        student: String,
        subject: String,
        level: Option<Level>,
        computed: Option<Level>,
        by: String,
        team: Team,
    },
    /// The council's decisions about a student; an empty set takes them back.
    Decide {
        student: String,
        decisions: BTreeSet<Decision>,
        by: String,
        team: Team,
    },
    /// The bilan de fin de cycle: the level of each of the eight components.
    AssessSocle {
        student: String,
        cycle: Cycle,
        levels: BTreeMap<Component, Level>,
        by: String,
        team: Team,
    },
    Close {
        by: String,
        team: Team,
    },
    Reopen {
        by: String,
        reason: String,
        team: Team,
    },
    Publish {
        on: NaiveDate,
        by: String,
        team: Team,
    },
    /// A bulletin was made for `student` and given a verification code.
    Issue {
        student: String,
        issued: Issued,
        by: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::VariantNames)]
pub enum CouncilEvent {
    AppreciationWritten {
        division: String,
        period: String,
        student: String,
        topic: Topic,
        text: Personal<String>,
        by: String,
    },
    PositioningSet {
        division: String,
        period: String,
        student: String,
        subject: String,
        level: Option<Level>,
        computed: Option<Level>,
        by: String,
    },
    DecisionsRecorded {
        division: String,
        period: String,
        student: String,
        decisions: BTreeSet<Decision>,
        by: String,
    },
    SocleAssessed {
        division: String,
        period: String,
        student: String,
        cycle: Cycle,
        levels: BTreeMap<Component, Level>,
        by: String,
    },
    CouncilClosed {
        by: String,
    },
    CouncilReopened {
        by: String,
        reason: String,
    },
    BulletinsPublished {
        on: NaiveDate,
        by: String,
    },
    BulletinIssued {
        student: String,
        issued: Issued,
        by: String,
    },
}

impl DomainEvent for CouncilEvent {
    fn event_type(&self) -> String {
        match self {
            CouncilEvent::AppreciationWritten { .. } => "AppreciationWritten",
            CouncilEvent::PositioningSet { .. } => "PositioningSet",
            CouncilEvent::DecisionsRecorded { .. } => "DecisionsRecorded",
            CouncilEvent::SocleAssessed { .. } => "SocleAssessed",
            CouncilEvent::CouncilClosed { .. } => "CouncilClosed",
            CouncilEvent::CouncilReopened { .. } => "CouncilReopened",
            CouncilEvent::BulletinsPublished { .. } => "BulletinsPublished",
            CouncilEvent::BulletinIssued { .. } => "BulletinIssued",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouncilError {
    #[error("le conseil de classe de {division} pour la période {period} est clos : le chef d'établissement doit le rouvrir avant toute modification")]
    Closed { division: String, period: String },
    #[error("ces bulletins sont ceux de {expected} ; la demande concerne {given}")]
    WrongClass { expected: String, given: String },
    #[error("{by} ne peut pas écrire {} de {student} : {why}", .topic.fr())]
    MayNotWrite {
        by: String,
        student: String,
        topic: Topic,
        why: &'static str,
    },
    #[error("{by} n'enseigne pas {subject} à cette classe : seul un de ses professeurs peut positionner l'élève")]
    NotTheirSubject { by: String, subject: String },
    #[error("seul le chef d'établissement ou son adjoint peut {0}")]
    HeadsOnly(&'static str),
    #[error("seul un professeur principal de la classe ou le chef d'établissement peut établir le bilan de fin de cycle")]
    LeadsOnly,
    #[error("{} est vide : pour retirer un texte, écrivez-en un autre", .0.fr())]
    EmptyText(Topic),
    #[error("{} compte {length} caractères ; le Livret scolaire unique en accepte {max} au plus", .topic.fr())]
    TooLong {
        topic: Topic,
        length: usize,
        max: usize,
    },
    #[error("{} de {student} est déjà ce texte", .topic.fr())]
    SameText { student: String, topic: Topic },
    #[error("le conseil ne peut pas à la fois féliciter et mettre en garde, ni donner deux mentions ({0})")]
    DecisionsClash(String),
    #[error(
        "le bilan de fin de cycle doit positionner les huit composantes du socle ; il manque : {0}"
    )]
    ComponentsMissing(String),
    #[error("le conseil de classe est déjà clos")]
    AlreadyClosed,
    #[error("le conseil de classe n'est pas clos")]
    NotClosed,
    #[error("les bulletins sont publiés une fois le conseil de classe clos")]
    PublishBeforeClose,
    #[error("les bulletins de cette période sont déjà publiés")]
    AlreadyPublished,
    #[error("un bulletin est délivré avec un code de vérification une fois les bulletins publiés")]
    NotPublished,
    #[error("le code de vérification {0} est déjà utilisé")]
    CodeTaken(String),
    #[error("la réouverture doit dire pourquoi")]
    ReasonRequired,
    #[error("il manque l'élève")]
    NoStudent,
}

impl Refusal for CouncilError {
    fn rule(&self) -> &'static str {
        match self {
            CouncilError::Closed { .. } => "COUNCIL_CLOSED",
            CouncilError::WrongClass { .. } => "WRONG_CLASS",
            CouncilError::MayNotWrite { .. } => "MAY_NOT_WRITE_APPRECIATION",
            CouncilError::NotTheirSubject { .. } => "NOT_THEIR_SUBJECT",
            CouncilError::HeadsOnly(_) => "HEADS_ONLY",
            CouncilError::LeadsOnly => "PRINCIPAL_TEACHER_ONLY",
            CouncilError::EmptyText(_) => "EMPTY_APPRECIATION",
            CouncilError::TooLong { .. } => "APPRECIATION_TOO_LONG",
            CouncilError::SameText { .. } => "SAME_APPRECIATION",
            CouncilError::DecisionsClash(_) => "DECISIONS_CLASH",
            CouncilError::ComponentsMissing(_) => "SOCLE_COMPONENTS_MISSING",
            CouncilError::AlreadyClosed => "COUNCIL_ALREADY_CLOSED",
            CouncilError::NotClosed => "COUNCIL_NOT_CLOSED",
            CouncilError::PublishBeforeClose => "PUBLISH_BEFORE_CLOSE",
            CouncilError::AlreadyPublished => "ALREADY_PUBLISHED",
            CouncilError::NotPublished => "NOT_PUBLISHED",
            CouncilError::CodeTaken(_) => "VERIFICATION_CODE_TAKEN",
            CouncilError::ReasonRequired => "REOPEN_REASON_REQUIRED",
            CouncilError::NoStudent => "MISSING_VALUE",
        }
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::Fr {
            return self.to_string();
        }
        match self {
            CouncilError::Closed { division, period } => format!(
                "the class council of {division} for period {period} is closed: the head must reopen it before any change"
            ),
            CouncilError::WrongClass { expected, given } => {
                format!("these report cards are those of {expected}; the request is for {given}")
            }
            CouncilError::MayNotWrite {
                by, student, topic, ..
            } => format!("{by} may not write {} of {student}", topic.en()),
            CouncilError::NotTheirSubject { by, subject } => format!(
                "{by} does not teach {subject} to this class: only its teachers may position the student"
            ),
            CouncilError::HeadsOnly(what) => format!("only the head or a deputy may {what}"),
            CouncilError::LeadsOnly => {
                "only a principal teacher of the class or the head may assess the end of the cycle"
                    .to_string()
            }
            CouncilError::EmptyText(topic) => format!("{} is empty", topic.en()),
            CouncilError::TooLong { topic, length, max } => format!(
                "{} is {length} characters long; the LSU accepts at most {max}",
                topic.en()
            ),
            CouncilError::SameText { student, topic } => {
                format!("{} of {student} is already this text", topic.en())
            }
            CouncilError::DecisionsClash(list) => format!(
                "the council cannot both praise and warn, nor give two mentions ({list})"
            ),
            CouncilError::ComponentsMissing(list) => format!(
                "the end-of-cycle assessment must position all eight components; missing: {list}"
            ),
            CouncilError::AlreadyClosed => "the class council is already closed".to_string(),
            CouncilError::NotClosed => "the class council is not closed".to_string(),
            CouncilError::PublishBeforeClose => {
                "report cards are published once the class council is closed".to_string()
            }
            CouncilError::AlreadyPublished => {
                "the report cards of this period are already published".to_string()
            }
            CouncilError::NotPublished => {
                "a bulletin gets a verification code once the report cards are published"
                    .to_string()
            }
            CouncilError::CodeTaken(code) => format!("verification code {code} is already used"),
            CouncilError::ReasonRequired => "a reopening must say why".to_string(),
            CouncilError::NoStudent => "the student must not be empty".to_string(),
        }
    }
}

use CouncilError as E;

impl ClassCouncil {
    /// The report of `student`, empty when nothing was written yet.
    pub fn report(&self, student: &str) -> Option<&StudentReport> {
        self.students.get(student)
    }

    /// Refuses a command for another division or period than this aggregate's.
    fn check_class(&self, team: &Team) -> Result<(), E> {
        if let (Some(d), Some(p)) = (&self.division, &self.period) {
            if (d, p) != (&team.division, &team.period) {
                return Err(E::WrongClass {
                    expected: format!("{d}, {p}"),
                    given: format!("{}, {}", team.division, team.period),
                });
            }
        }
        Ok(())
    }

    /// What every change of a report needs: the right class, an open council, a student.
    fn check_open(&self, team: &Team, student: &str) -> Result<(), E> {
        self.check_class(team)?;
        if self.closed {
            return Err(E::Closed {
                division: team.division.clone(),
                period: team.period.clone(),
            });
        }
        if student.trim().is_empty() {
            return Err(E::NoStudent);
        }
        Ok(())
    }

    fn current(&self, student: &str, topic: &Topic) -> Option<&Written> {
        let report = self.students.get(student)?;
        match topic {
            Topic::Subject(s) => report.appreciations.get(s),
            Topic::General => report.general.as_ref(),
            Topic::VieScolaire => report.vie_scolaire.as_ref(),
            Topic::CycleSynthesis => report.synthesis.as_ref(),
        }
    }

    fn appreciate(
        &self,
        student: String,
        topic: Topic,
        text: String,
        by: String,
        team: Team,
    ) -> Result<Vec<CouncilEvent>, E> {
        self.check_open(&team, &student)?;
        let allowed = match &topic {
            Topic::Subject(s) => team.teaches(s, &by).then_some(()).ok_or(
                "seuls les professeurs qui enseignent cette matière à la classe écrivent son appréciation",
            ),
            Topic::General | Topic::CycleSynthesis => team.leads(&by).then_some(()).ok_or(
                "c'est le rôle du professeur principal de la classe ou du chef d'établissement",
            ),
            Topic::VieScolaire => team
                .cpes
                .contains(&by)
                .then_some(())
                .ok_or("c'est le rôle du conseiller principal d'éducation"),
        };
        if let Err(why) = allowed {
            return Err(E::MayNotWrite {
                by,
                student,
                topic,
                why,
            });
        }
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(E::EmptyText(topic));
        }
        let length = text.chars().count();
        if length > topic.max_length() {
            let max = topic.max_length();
            return Err(E::TooLong { topic, length, max });
        }
        if self
            .current(&student, &topic)
            .and_then(|w| w.text.in_clear())
            == Some(&text)
        {
            return Err(E::SameText { student, topic });
        }
        Ok(vec![CouncilEvent::AppreciationWritten {
            division: team.division,
            period: team.period,
            text: Personal::known(student.clone(), text),
            student,
            topic,
            by,
        }])
    }

    fn decide(&self, command: CouncilCommand) -> Result<Vec<CouncilEvent>, E> {
        match command {
            CouncilCommand::Appreciate {
                student,
                topic,
                text,
                by,
                team,
            } => self.appreciate(student, topic, text, by, team),
            CouncilCommand::Position {
                student,
                subject,
                level,
                computed,
                by,
                team,
            } => {
                self.check_open(&team, &student)?;
                if !team.teaches(&subject, &by) {
                    return Err(E::NotTheirSubject { by, subject });
                }
                Ok(vec![CouncilEvent::PositioningSet {
                    division: team.division,
                    period: team.period,
                    student,
                    subject,
                    level,
                    computed,
                    by,
                }])
            }
            CouncilCommand::Decide {
                student,
                decisions,
                by,
                team,
            } => {
                self.check_open(&team, &student)?;
                if !team.heads.contains(&by) {
                    return Err(E::HeadsOnly("consigner les décisions du conseil de classe"));
                }
                check_decisions(&decisions)?;
                Ok(vec![CouncilEvent::DecisionsRecorded {
                    division: team.division,
                    period: team.period,
                    student,
                    decisions,
                    by,
                }])
            }
            CouncilCommand::AssessSocle {
                student,
                cycle,
                levels,
                by,
                team,
            } => {
                self.check_open(&team, &student)?;
                if !team.leads(&by) {
                    return Err(E::LeadsOnly);
                }
                let missing: Vec<&str> = Component::ALL
                    .iter()
                    .filter(|c| !levels.contains_key(c))
                    .map(|c| c.lsu_code())
                    .collect();
                if !missing.is_empty() {
                    return Err(E::ComponentsMissing(missing.join(", ")));
                }
                Ok(vec![CouncilEvent::SocleAssessed {
                    division: team.division,
                    period: team.period,
                    student,
                    cycle,
                    levels,
                    by,
                }])
            }
            CouncilCommand::Close { by, team } => {
                self.check_class(&team)?;
                if !team.heads.contains(&by) {
                    return Err(E::HeadsOnly("clore le conseil de classe"));
                }
                if self.closed {
                    return Err(E::AlreadyClosed);
                }
                Ok(vec![CouncilEvent::CouncilClosed { by }])
            }
            CouncilCommand::Reopen { by, reason, team } => {
                self.check_class(&team)?;
                if !team.heads.contains(&by) {
                    return Err(E::HeadsOnly("rouvrir le conseil de classe"));
                }
                if !self.closed {
                    return Err(E::NotClosed);
                }
                if reason.trim().is_empty() {
                    return Err(E::ReasonRequired);
                }
                Ok(vec![CouncilEvent::CouncilReopened { by, reason }])
            }
            CouncilCommand::Publish { on, by, team } => {
                self.check_class(&team)?;
                if !team.heads.contains(&by) {
                    return Err(E::HeadsOnly("publier les bulletins"));
                }
                if !self.closed {
                    return Err(E::PublishBeforeClose);
                }
                if self.published_on.is_some() {
                    return Err(E::AlreadyPublished);
                }
                Ok(vec![CouncilEvent::BulletinsPublished { on, by }])
            }
            CouncilCommand::Issue {
                student,
                issued,
                by,
            } => {
                if self.published_on.is_none() {
                    return Err(E::NotPublished);
                }
                let taken = self
                    .students
                    .values()
                    .flat_map(|r| &r.issued)
                    .any(|i| i.code == issued.code);
                if taken {
                    return Err(E::CodeTaken(issued.code));
                }
                Ok(vec![CouncilEvent::BulletinIssued {
                    student,
                    issued,
                    by,
                }])
            }
        }
    }
}

/// At most one mention (félicitations, compliments, encouragements), never with a
/// warning; the two warnings may go together.
fn check_decisions(decisions: &BTreeSet<Decision>) -> Result<(), E> {
    let praises = decisions.iter().filter(|d| d.praises()).count();
    let warnings = decisions.len() - praises;
    if praises > 1 || (praises == 1 && warnings > 0) {
        let list: Vec<&str> = decisions.iter().map(|d| d.label_fr()).collect();
        return Err(E::DecisionsClash(list.join(", ")));
    }
    Ok(())
}

fn write(slot: &mut Option<Written>, text: Personal<String>, by: String) {
    match slot {
        Some(written) => {
            let earlier = std::mem::replace(&mut written.text, text);
            written.previous.push(earlier);
            written.by = by;
        }
        None => {
            *slot = Some(Written {
                text,
                by,
                previous: Vec::new(),
            })
        }
    }
}

impl Aggregate for ClassCouncil {
    const TYPE: &'static str = "class_council";
    type Command = CouncilCommand;
    type Event = CouncilEvent;
    type Error = CouncilError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CouncilCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CouncilError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CouncilEvent) {
        match event {
            CouncilEvent::AppreciationWritten {
                division,
                period,
                student,
                topic,
                text,
                by,
            } => {
                self.division.get_or_insert(division);
                self.period.get_or_insert(period);
                let report = self.students.entry(student).or_default();
                match topic {
                    Topic::Subject(subject) => {
                        let mut slot = report.appreciations.remove(&subject);
                        write(&mut slot, text, by);
                        if let Some(written) = slot {
                            report.appreciations.insert(subject, written);
                        }
                    }
                    Topic::General => write(&mut report.general, text, by),
                    Topic::VieScolaire => write(&mut report.vie_scolaire, text, by),
                    Topic::CycleSynthesis => write(&mut report.synthesis, text, by),
                }
            }
            CouncilEvent::PositioningSet {
                division,
                period,
                student,
                subject,
                level,
                computed,
                by,
            } => {
                self.division.get_or_insert(division);
                self.period.get_or_insert(period);
                let report = self.students.entry(student).or_default();
                match level {
                    Some(level) => {
                        report.positionings.insert(
                            subject,
                            Override {
                                level,
                                computed,
                                by,
                            },
                        );
                    }
                    None => {
                        report.positionings.remove(&subject);
                    }
                }
            }
            CouncilEvent::DecisionsRecorded {
                division,
                period,
                student,
                decisions,
                ..
            } => {
                self.division.get_or_insert(division);
                self.period.get_or_insert(period);
                self.students.entry(student).or_default().decisions = decisions;
            }
            CouncilEvent::SocleAssessed {
                division,
                period,
                student,
                cycle,
                levels,
                by,
            } => {
                self.division.get_or_insert(division);
                self.period.get_or_insert(period);
                self.students.entry(student).or_default().end_of_cycle =
                    Some(EndOfCycle { cycle, levels, by });
            }
            CouncilEvent::CouncilClosed { .. } => self.closed = true,
            CouncilEvent::CouncilReopened { .. } => {
                self.closed = false;
                self.published_on = None;
            }
            CouncilEvent::BulletinsPublished { on, .. } => self.published_on = Some(on),
            CouncilEvent::BulletinIssued {
                student, issued, ..
            } => self
                .students
                .entry(student)
                .or_default()
                .issued
                .push(issued),
        }
    }
}
