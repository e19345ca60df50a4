//! What a guardian reads: the subject and text of a notification, in French unless the
//! guardian chose English. Names come opened from the read model at sending time; the
//! rest (dates, times, counts) from the delivery's details.

use carnet_domain::contact::{Language, Notice};
use chrono::{Datelike, NaiveDate};
use serde_json::Value;

/// The message of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
}

/// Who and where the message is about.
#[derive(Debug, Clone)]
pub struct About<'a> {
    pub child: &'a str,
    pub establishment: &'a str,
}

/// The message telling of `notice`, with its `details`, or `None` when the details do
/// not hold what the notice needs (a delivery written by another version).
pub fn compose(notice: Notice, details: &Value, about: &About, lang: Language) -> Option<Message> {
    let text = |key: &str| details.get(key).and_then(Value::as_str);
    let date = |key: &str| text(key).and_then(|d| d.parse::<NaiveDate>().ok());
    let child = about.child;
    let (subject, body) = match (notice, lang) {
        (Notice::Absence, Language::Fr) => (
            format!("Absence de {child}"),
            format!(
                "{child} a été noté(e) absent(e) le {} au cours de {}.\n\nSi vous connaissez le motif de cette absence, justifiez-la auprès de la vie scolaire ou depuis l'ENT.",
                french_date(date("date")?),
                text("start")?
            ),
        ),
        (Notice::Absence, Language::En) => (
            format!("{child} was absent"),
            format!(
                "{child} was recorded absent on {} in the lesson starting at {}.\n\nIf you know why, please justify the absence to the vie scolaire office or through the ENT.",
                english_date(date("date")?),
                text("start")?
            ),
        ),
        (Notice::Alert, Language::Fr) => (
            format!("Absences répétées de {child}"),
            format!(
                "{child} compte {} demi-journées d'absence sans motif légitime ni excuse valable au cours du mois ({}).\n\nÀ partir de quatre demi-journées dans le mois, le chef d'établissement prend contact avec la famille (article L131-8 du code de l'éducation).",
                details.get("half_days")?.as_u64()?,
                text("month")?
            ),
        ),
        (Notice::Alert, Language::En) => (
            format!("Repeated absences of {child}"),
            format!(
                "{child} has missed {} half-days this month ({}) without a legitimate reason or valid excuse.\n\nFrom four half-days in a month, the head of the establishment contacts the family (French education code, article L131-8).",
                details.get("half_days")?.as_u64()?,
                text("month")?
            ),
        ),
        (Notice::Justification, lang) => justification(details, child, lang)?,
        (Notice::Mark, lang) => mark(details, child, lang)?,
    };
    let signature = match lang {
        Language::Fr => format!("La vie scolaire — {}", about.establishment),
        Language::En => format!("The vie scolaire office — {}", about.establishment),
    };
    Some(Message {
        subject: format!("{subject} — {}", about.establishment),
        text: format!("{body}\n\n{signature}\n"),
    })
}

fn justification(details: &Value, child: &str, lang: Language) -> Option<(String, String)> {
    let accepted = details.get("accepted")?.as_bool()?;
    let day = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .and_then(|d| d.parse::<NaiveDate>().ok())
    };
    Some(match lang {
        Language::Fr => {
            let span = match (day("from"), day("to")) {
                (Some(f), Some(t)) if f == t => format!(" du {}", french_date(f)),
                (Some(f), Some(t)) => format!(" du {} au {}", french_date(f), french_date(t)),
                _ => String::new(),
            };
            let verdict = if accepted { "acceptée" } else { "refusée" };
            (
                format!("Justification {verdict}"),
                format!(
                    "La vie scolaire a {verdict} la justification de l'absence de {child}{span}."
                ),
            )
        }
        Language::En => {
            let span = match (day("from"), day("to")) {
                (Some(f), Some(t)) if f == t => format!(" on {}", english_date(f)),
                (Some(f), Some(t)) => {
                    format!(" from {} to {}", english_date(f), english_date(t))
                }
                _ => String::new(),
            };
            let verdict = if accepted { "accepted" } else { "refused" };
            (
                format!("Justification {verdict}"),
                format!("The vie scolaire office {verdict} the justification of {child}'s absence{span}."),
            )
        }
    })
}

fn mark(details: &Value, child: &str, lang: Language) -> Option<(String, String)> {
    let text = |key: &str| details.get(key).and_then(Value::as_str);
    let (subject, title, scale) = (text("subject")?, text("title")?, text("scale")?);
    let date = text("date").and_then(|d| d.parse::<NaiveDate>().ok());
    let mark = details.get("mark")?;
    let score = mark.get("Score").and_then(Value::as_str);
    Some(match lang {
        Language::Fr => {
            let what = match (score, mark.as_str()) {
                (Some(score), _) => format!(
                    "la note de {}/{}",
                    score.replace('.', ","),
                    scale.replace('.', ",")
                ),
                (None, Some("Absent")) => "la mention absent(e) (ABS)".to_string(),
                (None, Some("Exempted")) => "la mention dispensé(e) (DISP)".to_string(),
                (None, Some("NotGraded")) => "la mention non noté(e) (NN)".to_string(),
                (None, Some("NotHandedIn")) => "la mention non rendu (NR)".to_string(),
                _ => return None,
            };
            let when = date
                .map(|d| format!(" du {}", french_date(d)))
                .unwrap_or_default();
            (
                format!("Nouvelle note de {child} en {subject}"),
                format!("{child} a reçu {what} en {subject} pour l'évaluation « {title} »{when}."),
            )
        }
        Language::En => {
            let what = match (score, mark.as_str()) {
                (Some(score), _) => format!("a mark of {score}/{scale}"),
                (None, Some("Absent")) => "ABS (absent)".to_string(),
                (None, Some("Exempted")) => "DISP (exempted)".to_string(),
                (None, Some("NotGraded")) => "NN (not graded)".to_string(),
                (None, Some("NotHandedIn")) => "NR (not handed in)".to_string(),
                _ => return None,
            };
            let when = date
                .map(|d| format!(" of {}", english_date(d)))
                .unwrap_or_default();
            (
                format!("New mark for {child} in {subject}"),
                format!("{child} got {what} in {subject} for the evaluation \"{title}\"{when}."),
            )
        }
    })
}

/// `lundi 7 décembre 2026`.
pub fn french_date(date: NaiveDate) -> String {
    const DAYS: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let day = DAYS[date.weekday().num_days_from_monday() as usize];
    let month = MONTHS[date.month0() as usize];
    let first = if date.day() == 1 {
        "1er".to_string()
    } else {
        date.day().to_string()
    };
    format!("{day} {first} {month} {}", date.year())
}

/// `Monday 7 December 2026`.
pub fn english_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const ABOUT: About = About {
        child: "Zoë Lefèvre",
        establishment: "Collège Victor Hugo",
    };

    #[test]
    fn an_absence_is_told_in_french_with_the_day_and_time() {
        let details = json!({"lesson": "l1", "date": "2026-12-07", "start": "08:00"});
        let m = compose(Notice::Absence, &details, &ABOUT, Language::Fr).unwrap();
        assert_eq!(m.subject, "Absence de Zoë Lefèvre — Collège Victor Hugo");
        assert!(
            m.text.starts_with(
                "Zoë Lefèvre a été noté(e) absent(e) le lundi 7 décembre 2026 au cours de 08:00."
            ),
            "{}",
            m.text
        );
        assert!(m.text.ends_with("La vie scolaire — Collège Victor Hugo\n"));
    }

    #[test]
    fn english_is_available() {
        let details = json!({"lesson": "l1", "date": "2026-12-01", "start": "14:05"});
        let m = compose(Notice::Absence, &details, &ABOUT, Language::En).unwrap();
        assert!(m.text.contains("on Tuesday 1 December 2026"), "{}", m.text);
        assert_eq!(
            french_date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            "mardi 1er décembre 2026"
        );
    }

    #[test]
    fn alerts_and_decisions_say_what_happened() {
        let alert = json!({"month": "2026-11", "half_days": 4});
        let m = compose(Notice::Alert, &alert, &ABOUT, Language::Fr).unwrap();
        assert!(m.text.contains("4 demi-journées") && m.text.contains("L131-8"));
        let refused = json!({"accepted": false, "from": "2026-11-30", "to": "2026-12-01"});
        let m = compose(Notice::Justification, &refused, &ABOUT, Language::Fr).unwrap();
        assert!(m.text.contains("a refusée la justification de l'absence de Zoë Lefèvre du lundi 30 novembre 2026 au mardi 1er décembre 2026."), "{}", m.text);
    }

    #[test]
    fn a_mark_is_told_on_its_scale_with_a_decimal_comma() {
        let details = json!({"subject": "MATHS", "title": "Fractions", "date": "2026-12-04", "scale": "20", "mark": {"Score": "14.5"}});
        let m = compose(Notice::Mark, &details, &ABOUT, Language::Fr).unwrap();
        assert_eq!(
            m.subject,
            "Nouvelle note de Zoë Lefèvre en MATHS — Collège Victor Hugo"
        );
        assert!(m.text.starts_with("Zoë Lefèvre a reçu la note de 14,5/20 en MATHS pour l'évaluation « Fractions » du vendredi 4 décembre 2026."), "{}", m.text);
        let absent = json!({"subject": "EPS", "title": "Course", "date": null, "scale": "20", "mark": "Absent"});
        let m = compose(Notice::Mark, &absent, &ABOUT, Language::En).unwrap();
        assert!(
            m.text
                .starts_with("Zoë Lefèvre got ABS (absent) in EPS for the evaluation \"Course\"."),
            "{}",
            m.text
        );
    }

    #[test]
    fn details_missing_what_the_notice_needs_make_no_message() {
        assert!(compose(Notice::Absence, &json!({}), &ABOUT, Language::Fr).is_none());
    }
}
