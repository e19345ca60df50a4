//! Authorization: who may see and do what, from the relationships the read models hold.
//!
//! The token says who the person is and what they claim to act as; the establishment's
//! records say what that is worth here: a guardian sees the children the enrolment
//! read model links them to, with the rights recorded there; a teacher reaches the
//! divisions and groups of their services; vie scolaire and administration the whole
//! establishment; an auditor reads everything of their scope and writes nothing. Each
//! check answers FORBIDDEN with what was refused, never the data.

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::enrolment::{ClassRef, GuardianRights, Role, SchoolYear, Student};
use carnet_domain::Uai;
use carnet_projections::enrolment;

use crate::auth::{ClaimedRole, Principal};
use crate::error::{ApiError, ApiResult};
use crate::i18n::Text;
use crate::reader::Reader;

/// The caller, as this establishment knows them.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub person: String,
    pub tenant: Option<Uai>,
    /// Children and the rights on each, when acting as a guardian.
    pub children: BTreeMap<String, GuardianRights>,
    /// Acting as this student (their own record).
    pub student: bool,
    /// Staff roles in the establishment's record that the token claims.
    pub staff: BTreeSet<Role>,
    /// (year, class, subject) of the teacher's services; the subject by the short name
    /// timetables and gradebooks use (`MATHS`), not its STS code.
    pub services: BTreeSet<(SchoolYear, String, String)>,
    pub auditor: bool,
}

/// The establishment's person a token's identity names. Carnet's own ids come first, so
/// its own tokens (development tokens, `sub` = person id) act as that person unchanged;
/// any other identity is an ENT's, found among the external identifiers linked to the
/// establishment's people (`linkExternalId`, imports). An identity linked to nobody is
/// refused with what is missing and how to link it, rather than acting as nobody.
async fn person_of(principal: &Principal, reader: &Reader) -> ApiResult<String> {
    let tenant = &reader.tenant;
    let id = &principal.person;
    // A token that claims no role acts as nobody whoever it names (and an auditor is
    // nobody of the establishment): the identity stands, to be refused or kept as such.
    if principal.roles.is_empty() || principal.roles.contains(&ClaimedRole::Auditor) {
        return Ok(id.clone());
    }
    let pool = &reader.pool;
    let claims = |r: ClaimedRole| principal.roles.contains(&r);
    // Only the records of what the token claims to be are read, the small documents
    // first: a family's token need not read the establishment's large one, and a staff
    // token reads only that one (shared between requests by the reader).
    if claims(ClaimedRole::Student) && enrolment::student(pool, tenant, id).await?.is_some() {
        return Ok(id.clone());
    }
    if claims(ClaimedRole::Guardian)
        && !enrolment::guardian_children(pool, tenant, id)
            .await?
            .children
            .is_empty()
    {
        return Ok(id.clone());
    }
    let establishment = match reader.establishment().await {
        Ok(found) => found,
        // Nothing recorded yet: nobody can be linked, the identity stands as it is.
        Err(ApiError::NotFound(_)) => return Ok(id.clone()),
        Err(e) => return Err(e),
    };
    if establishment.staff.contains_key(id) {
        return Ok(id.clone());
    }
    if let Some(link) = establishment.external_ids.get(id) {
        return Ok(link.person.clone());
    }
    let issuer = &principal.issuer;
    Err(ApiError::forbidden(Text::new(
        format!(
            "l'identifiant `{id}` fourni par {issuer} n'est associé à personne dans \
             l'établissement {tenant} : le secrétariat (le chef d'établissement, pour un membre \
             du personnel) l'associe à la personne avec linkExternalId, ou importe un fichier \
             qui le contient (userIds OneRoster)"
        ),
        format!(
            "the identifier `{id}` given by {issuer} is linked to no one in establishment \
             {tenant}: the secretariat (the head, for a member of staff) links it to the person \
             with linkExternalId, or imports a file that carries it (OneRoster userIds)"
        ),
    )))
}

/// Staff roles that see the whole establishment.
const VIE_SCOLAIRE_AND_ADMIN: [Role; 4] =
    [Role::Cpe, Role::Aed, Role::Secretariat, Role::Principal];

impl Actor {
    /// Resolves `principal` in `tenant` from the enrolment read model (never from an
    /// `asOf` past: rights are today's).
    pub async fn resolve(principal: &Principal, reader: &Reader) -> ApiResult<Actor> {
        let tenant = &reader.tenant;
        if !principal.establishments.contains(tenant) {
            return Err(ApiError::forbidden(Text::new(
                format!("votre jeton ne couvre pas l'établissement {tenant}"),
                format!("your token does not cover establishment {tenant}"),
            )));
        }
        // A token claims its roles; one that claims none acts as nobody.
        let claims = |r: ClaimedRole| principal.roles.contains(&r);
        let person = person_of(principal, reader).await?;
        let mut actor = Actor {
            person: person.clone(),
            tenant: Some(tenant.clone()),
            auditor: principal.roles.contains(&ClaimedRole::Auditor),
            ..Actor::default()
        };
        let pool = &reader.pool;
        if claims(ClaimedRole::Guardian) {
            actor.children = enrolment::guardian_children(pool, tenant, &person)
                .await?
                .children
                .into_iter()
                .map(|(child, link)| (child, link.rights))
                .collect();
        }
        if claims(ClaimedRole::Student) {
            actor.student = enrolment::student(pool, tenant, &person)
                .await?
                .is_some_and(|s| s.departure.is_none());
        }
        let staff_claims: Vec<Role> = [
            (ClaimedRole::Teacher, Role::Teacher),
            (ClaimedRole::Cpe, Role::Cpe),
            (ClaimedRole::Aed, Role::Aed),
            (ClaimedRole::Secretariat, Role::Secretariat),
            (ClaimedRole::Principal, Role::Principal),
        ]
        .into_iter()
        .filter(|(c, _)| claims(*c))
        .map(|(_, r)| r)
        .collect();
        let mut subjects = BTreeMap::new();
        if !staff_claims.is_empty() {
            // The establishment document is large: read through the reader, which shares
            // it between requests while the enrolment projection has not moved.
            let establishment = match reader.establishment().await {
                Ok(found) => Some(found),
                Err(ApiError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            if let Some(establishment) = establishment {
                subjects = establishment
                    .subjects
                    .iter()
                    .map(|(code, s)| (code.to_string(), s.short.clone()))
                    .collect();
                if let Some(member) = establishment.staff.get(&person) {
                    let today = chrono::Utc::now().date_naive();
                    if member.left_on.is_none_or(|d| d >= today) {
                        actor.staff = member
                            .roles
                            .iter()
                            .copied()
                            .filter(|r| staff_claims.contains(r))
                            .collect();
                    }
                }
            }
        }
        if actor.staff.contains(&Role::Teacher) {
            actor.services = enrolment::teacher_services(pool, tenant, &person)
                .await?
                .services
                .into_iter()
                .map(|(year, code, class)| {
                    let code = code.to_string();
                    let subject = subjects.get(&code).cloned().unwrap_or(code);
                    (year, class_id(&class).to_string(), subject)
                })
                .collect();
        }
        if actor.children.is_empty() && !actor.student && actor.staff.is_empty() && !actor.auditor {
            return Err(ApiError::forbidden(Text::new(
                format!(
                    "{person} n'a dans l'établissement {tenant} aucune des fonctions que ce jeton \
                     revendique"
                ),
                format!("{person} has no role in establishment {tenant} that this token claims"),
            )));
        }
        Ok(actor)
    }

    /// The role recorded with the caller's commands.
    pub fn role_label(&self) -> &'static str {
        const ORDER: [(Role, &str); 5] = [
            (Role::Principal, "principal"),
            (Role::Cpe, "cpe"),
            (Role::Aed, "aed"),
            (Role::Secretariat, "secretariat"),
            (Role::Teacher, "teacher"),
        ];
        if let Some((_, label)) = ORDER.iter().find(|(r, _)| self.is(*r)) {
            return label;
        }
        if !self.children.is_empty() {
            "guardian"
        } else if self.student {
            "student"
        } else {
            "auditor"
        }
    }

    pub fn is(&self, role: Role) -> bool {
        self.staff.contains(&role)
    }

    /// Vie scolaire and administration: the whole establishment.
    pub fn sees_establishment(&self) -> bool {
        self.auditor || VIE_SCOLAIRE_AND_ADMIN.iter().any(|r| self.is(*r))
    }

    pub fn teaches(&self, year: &SchoolYear, class: &str) -> bool {
        self.services
            .iter()
            .any(|(y, c, _)| y == year && c == class)
    }

    pub fn teaches_subject(&self, year: &SchoolYear, class: &str, subject: &str) -> bool {
        self.services
            .contains(&(year.clone(), class.to_string(), subject.to_string()))
    }

    /// Writes are never an auditor's: refused first, whatever else they hold.
    pub fn may_write(&self) -> ApiResult<()> {
        if self.auditor {
            return Err(ApiError::forbidden(Text::new(
                "un inspecteur consulte et ne modifie jamais",
                "an auditor reads and never writes",
            )));
        }
        Ok(())
    }

    /// A student's timetable, attendance, grades and record.
    pub fn may_see_student(&self, student: &Student, id: &str) -> ApiResult<()> {
        // A teacher reaches the students of the classes they teach now: a service of a
        // former year, or a class the student has left, gives nothing.
        let today = chrono::Utc::now().date_naive();
        let allowed = self.sees_establishment()
            || (self.student && self.person == id)
            || self.children.get(id).is_some_and(|r| r.see)
            || classes_on(student, today)
                .iter()
                .any(|(year, class)| self.teaches(year, class));
        allowed
            .then_some(())
            .ok_or_else(|| Self::student_refused(id))
    }

    /// The subjects of `class` whose marks of student `id` this actor reads: `None` for
    /// all of them (the student, their guardians, vie scolaire and administration,
    /// auditors); for a teacher, the subjects they teach that class, as a French school's
    /// teacher reads only their own subjects' marks.
    pub fn readable_subjects(
        &self,
        id: &str,
        year: &SchoolYear,
        class: &str,
    ) -> Option<BTreeSet<String>> {
        if self.sees_establishment()
            || (self.student && self.person == id)
            || self.children.get(id).is_some_and(|r| r.see)
        {
            return None;
        }
        Some(
            self.services
                .iter()
                .filter(|(y, c, _)| y == year && c == class)
                .map(|(_, _, subject)| subject.clone())
                .collect(),
        )
    }

    /// The one refusal of a student record, whether or not the student exists.
    pub fn student_refused(id: &str) -> ApiError {
        ApiError::forbidden(Text::new(
            format!("vous ne pouvez pas consulter le dossier de l'élève {id}"),
            format!("you may not see the record of student {id}"),
        ))
    }

    /// A division's or group's roster, timetable and gradebooks.
    pub fn may_see_class(&self, year: &SchoolYear, class: &str) -> ApiResult<()> {
        (self.sees_establishment() || self.teaches(year, class))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    format!("vous n'enseignez pas en {class} en {year}"),
                    format!("you do not teach {class} in {year}"),
                ))
            })
    }

    /// A teacher's timetable and registers.
    pub fn may_see_teacher(&self, teacher: &str) -> ApiResult<()> {
        (self.sees_establishment() || (self.is(Role::Teacher) && self.person == teacher))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    format!("vous ne pouvez pas consulter l'emploi du temps de {teacher}"),
                    format!("you may not see {teacher}'s timetable"),
                ))
            })
    }

    /// Resources and their bookings: the staff's business.
    pub fn may_see_resources(&self) -> ApiResult<()> {
        (self.sees_establishment() || self.is(Role::Teacher))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    "les ressources sont réservées au personnel de l'établissement",
                    "resources are for the establishment's staff",
                ))
            })
    }

    /// Attendance alerts (L131-8): vie scolaire and the head.
    pub fn may_see_alerts(&self) -> ApiResult<()> {
        (self.auditor || self.is(Role::Cpe) || self.is(Role::Aed) || self.is(Role::Principal))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    "les alertes d'absentéisme sont réservées à la vie scolaire",
                    "attendance alerts are for vie scolaire",
                ))
            })
    }

    /// A roll call or its correction: the lesson's teachers, vie scolaire, the head.
    pub fn may_take_roll_call(&self, teachers: &[String]) -> ApiResult<()> {
        self.may_write()?;
        let allowed = self.is(Role::Cpe)
            || self.is(Role::Aed)
            || self.is(Role::Principal)
            || (self.is(Role::Teacher) && teachers.contains(&self.person));
        allowed.then_some(()).ok_or_else(|| {
            ApiError::forbidden(Text::new(
                "seuls l'enseignant du cours et la vie scolaire font l'appel",
                "only the lesson's teacher or vie scolaire take its roll call",
            ))
        })
    }

    /// Declaring why a student was absent: a guardian with that right, vie scolaire.
    pub fn may_justify(&self, student: &str) -> ApiResult<()> {
        self.may_write()?;
        let allowed = self.is(Role::Cpe)
            || self.is(Role::Aed)
            || self.is(Role::Principal)
            || self.children.get(student).is_some_and(|r| r.justify);
        allowed.then_some(()).ok_or_else(|| {
            ApiError::forbidden(Text::new(
                format!("vous ne pouvez pas justifier les absences de l'élève {student}"),
                format!("you may not justify absences of student {student}"),
            ))
        })
    }

    /// Accepting or refusing a justification: the CPE (or the head).
    pub fn may_decide_justification(&self) -> ApiResult<()> {
        self.may_write()?;
        (self.is(Role::Cpe) || self.is(Role::Principal))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    "c'est le CPE qui statue sur les justificatifs",
                    "justifications are decided by the CPE",
                ))
            })
    }

    /// Evaluations and marks: the teacher of that subject in that class.
    pub fn may_grade(&self, year: &SchoolYear, class: &str, subject: &str) -> ApiResult<()> {
        self.may_write()?;
        self.teaches_subject(year, class, subject)
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    format!("vous n'enseignez pas {subject} en {class} en {year}"),
                    format!("you do not teach {subject} to {class} in {year}"),
                ))
            })
    }

    /// Closing and reopening a period, subject coefficients: the head.
    pub fn may_administer(&self, what: impl Into<Text>) -> ApiResult<()> {
        self.may_write()?;
        self.is(Role::Principal).then_some(()).ok_or_else(|| {
            let what = administration_fr(what.into());
            ApiError::forbidden(Text::new(
                format!("{} est réservé au chef d'établissement", what.fr),
                format!("{} is for the head of the establishment", what.en),
            ))
        })
    }

    /// Enrolment changes: the secretariat and the head.
    pub fn may_enrol(&self) -> ApiResult<()> {
        self.may_write()?;
        (self.is(Role::Secretariat) || self.is(Role::Principal))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    "les inscriptions sont modifiées par le secrétariat ou le chef \
                     d'établissement",
                    "enrolment is changed by the secretariat or the head",
                ))
            })
    }

    /// Booking resources: teachers and staff.
    pub fn may_book(&self) -> ApiResult<()> {
        self.may_write()?;
        (!self.staff.is_empty()).then_some(()).ok_or_else(|| {
            ApiError::forbidden(Text::new(
                "les ressources sont réservées par le personnel de l'établissement",
                "resources are booked by the establishment's staff",
            ))
        })
    }

    /// Approving or refusing a booking: the resource's managers, or the head.
    pub fn may_manage(&self, managers: &[String]) -> ApiResult<()> {
        self.may_write()?;
        (self.is(Role::Principal) || (!self.staff.is_empty() && managers.contains(&self.person)))
            .then_some(())
            .ok_or_else(|| {
                ApiError::forbidden(Text::new(
                    "seuls les gestionnaires de la ressource valident ses réservations",
                    "only the resource's managers approve its bookings",
                ))
            })
    }
}

/// The id of a division or group.
pub fn class_id(class: &ClassRef) -> &str {
    match class {
        ClassRef::Division(id) | ClassRef::Group(id) => id,
    }
}

/// Every (year, division or group) the student was ever in.
/// The division and groups `student` is in on `day`.
pub fn classes_on(student: &Student, day: chrono::NaiveDate) -> BTreeSet<(SchoolYear, String)> {
    let during = |from: chrono::NaiveDate, to: Option<chrono::NaiveDate>| {
        from <= day && to.is_none_or(|to| day <= to)
    };
    let mut out = BTreeSet::new();
    for stint in student.stints.iter().filter(|s| during(s.from, s.to)) {
        out.insert((stint.year.clone(), stint.division.clone()));
        for g in stint.groups.iter().filter(|g| during(g.from, g.to)) {
            out.insert((stint.year.clone(), g.group.clone()));
        }
    }
    out
}

pub fn student_classes(student: &Student) -> BTreeSet<(SchoolYear, String)> {
    let mut out = BTreeSet::new();
    for stint in &student.stints {
        out.insert((stint.year.clone(), stint.division.clone()));
        for g in &stint.groups {
            out.insert((stint.year.clone(), g.group.clone()));
        }
    }
    out
}

/// What only the head may do, in French too when it was given in English only (the
/// schema names it: "closing a period").
fn administration_fr(what: Text) -> Text {
    if what.fr != what.en {
        return what;
    }
    let fr = match what.en.as_str() {
        "changing the timetable" => "modifier l'emploi du temps",
        "registering a resource" => "enregistrer une ressource",
        "erasing personal data" => "effacer des données personnelles",
        "defining competences" => "définir les compétences",
        "exporting to the LSU" => "exporter vers le Livret scolaire unique",
        "appointing principal teachers" => "nommer les professeurs principaux",
        "importing staff or timetables" => "importer du personnel ou des emplois du temps",
        "linking a member of staff to an ENT identifier" => {
            "associer un membre du personnel à un identifiant ENT"
        }
        "unlinking a member of staff's ENT identifier" => {
            "dissocier l'identifiant ENT d'un membre du personnel"
        }
        "opening a school year" => "ouvrir une année scolaire",
        "defining a subject" => "définir une matière",
        "hiring staff" => "ajouter un membre du personnel",
        "changing staff roles" => "modifier les fonctions du personnel",
        "recording a departure of staff" => "enregistrer le départ d'un membre du personnel",
        "assigning services" => "attribuer des services",
        "ending services" => "mettre fin à des services",
        "the year-end rollover" => "le passage à l'année suivante",
        "closing a period" => "clore une période",
        "reopening a period" => "rouvrir une période",
        "telling families of marks" => "informer les familles des notes",
        _ => return what,
    };
    Text::new(fr, what.en)
}
