//! The rules of report cards, given / when / then: appreciations and who writes them,
//! positionings, the class council's decisions, the bilan de fin de cycle, closing,
//! publication and issued bulletins; and the competence framework.
#![allow(clippy::unwrap_used)] // a test helper that panics is the failure report

#[path = "support/english.rs"]
mod english;

use std::collections::{BTreeMap, BTreeSet};

use carnet_domain::grades::competences::{assessments, positioning};
use carnet_domain::grades::{
    EvaluationSpec, Gradebook, GradebookCommand, GradebookError, GradebookEvent, Level, NotHandedIn,
};
use carnet_domain::personal::Personal;
use carnet_domain::refusal::Refusal;
use carnet_domain::reportcards::{
    ClassCouncil, CompetenceFramework, Component, CouncilCommand as C, CouncilError as E,
    CouncilEvent as V, Cycle, Decision, FrameworkCommand, FrameworkError, FrameworkEvent, Issued,
    Team, Topic,
};
use chrono::NaiveDate;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use english::ThenRefused;
use proptest::prelude::*;
use rust_decimal_macros::dec;

type Test = TestFramework<ClassCouncil>;

const MATHS_TEACHER: &str = "pers-maths";
const FRENCH_TEACHER: &str = "pers-francais";
const PP: &str = "pers-pp";
const CPE: &str = "pers-cpe";
const HEAD: &str = "pers-principale";

fn team() -> Team {
    Team {
        division: "3A".into(),
        period: "T1".into(),
        teachers: BTreeMap::from([
            ("MATHS".into(), BTreeSet::from([MATHS_TEACHER.into()])),
            (
                "FRANC".into(),
                BTreeSet::from([FRENCH_TEACHER.into(), PP.into()]),
            ),
        ]),
        principal_teachers: BTreeSet::from([PP.into()]),
        cpes: BTreeSet::from([CPE.into()]),
        heads: BTreeSet::from([HEAD.into()]),
    }
}

fn appreciate(topic: Topic, text: &str, by: &str) -> C {
    C::Appreciate {
        student: "zoe".into(),
        topic,
        text: text.into(),
        by: by.into(),
        team: team(),
    }
}

fn written(topic: Topic, text: &str, by: &str) -> V {
    V::AppreciationWritten {
        division: "3A".into(),
        period: "T1".into(),
        student: "zoe".into(),
        topic,
        text: Personal::known("zoe", text.to_string()),
        by: by.into(),
    }
}

fn maths() -> Topic {
    Topic::Subject("MATHS".into())
}

fn closed() -> V {
    V::CouncilClosed { by: HEAD.into() }
}

fn refused(events: Vec<V>, command: C) -> E {
    match Test::with(()).given(events).when(command).inspect_result() {
        Ok(events) => panic!("expected a refusal, got {events:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_teacher_of_a_subject_writes_its_appreciation() {
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(maths(), "Très bon trimestre.", MATHS_TEACHER))
        .then_expect_events(vec![written(maths(), "Très bon trimestre.", MATHS_TEACHER)]);
}

#[test]
fn another_teacher_may_not_write_it() {
    let e = refused(
        Vec::new(),
        appreciate(maths(), "Très bon trimestre.", FRENCH_TEACHER),
    );
    assert_eq!(e.rule(), "MAY_NOT_WRITE_APPRECIATION");
    assert!(e.to_string().contains(FRENCH_TEACHER), "{e}");
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(maths(), "Bien.", HEAD))
        .then_expect_english_error(
            "pers-principale may not write the appreciation of MATHS of zoe",
        );
}

#[test]
fn the_general_appreciation_is_the_principal_teachers_and_vie_scolaire_the_cpes() {
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(Topic::General, "Ensemble solide.", PP))
        .then_expect_events(vec![written(Topic::General, "Ensemble solide.", PP)]);
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(Topic::VieScolaire, "Élève ponctuelle.", CPE))
        .then_expect_events(vec![written(Topic::VieScolaire, "Élève ponctuelle.", CPE)]);
    assert_eq!(
        refused(
            Vec::new(),
            appreciate(Topic::General, "Bien.", MATHS_TEACHER)
        )
        .rule(),
        "MAY_NOT_WRITE_APPRECIATION"
    );
    assert_eq!(
        refused(Vec::new(), appreciate(Topic::VieScolaire, "Bien.", PP)).rule(),
        "MAY_NOT_WRITE_APPRECIATION"
    );
}

#[test]
fn appreciations_keep_to_the_lsu_lengths() {
    let e = refused(
        Vec::new(),
        appreciate(maths(), &"é".repeat(1001), MATHS_TEACHER),
    );
    assert_eq!(
        e,
        E::TooLong {
            topic: maths(),
            length: 1001,
            max: 1000
        }
    );
    // Characters are counted, not bytes: 1000 accented letters are accepted.
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(maths(), &"é".repeat(1000), MATHS_TEACHER))
        .then_expect_events(vec![written(maths(), &"é".repeat(1000), MATHS_TEACHER)]);
    // The CPE's text stops at 600, the synthesis of the cycle at 1500.
    assert_eq!(
        refused(
            Vec::new(),
            appreciate(Topic::VieScolaire, &"a".repeat(601), CPE)
        )
        .rule(),
        "APPRECIATION_TOO_LONG"
    );
    Test::with(())
        .given_no_previous_events()
        .when(appreciate(Topic::CycleSynthesis, &"a".repeat(1500), PP))
        .then_expect_events(vec![written(Topic::CycleSynthesis, &"a".repeat(1500), PP)]);
    assert_eq!(
        refused(Vec::new(), appreciate(maths(), "   ", MATHS_TEACHER)).rule(),
        "EMPTY_APPRECIATION"
    );
}

#[test]
fn a_correction_keeps_the_earlier_text() {
    let mut council = ClassCouncil::default();
    council.apply(written(maths(), "Premier jet.", MATHS_TEACHER));
    council.apply(written(maths(), "Texte corrigé.", MATHS_TEACHER));
    let entry = &council.report("zoe").unwrap().appreciations["MATHS"];
    assert_eq!(entry.text.in_clear().unwrap(), "Texte corrigé.");
    assert_eq!(entry.previous.len(), 1);
    assert_eq!(entry.previous[0].in_clear().unwrap(), "Premier jet.");
    assert_eq!(
        refused(
            vec![written(maths(), "Texte corrigé.", MATHS_TEACHER)],
            appreciate(maths(), " Texte corrigé. ", MATHS_TEACHER)
        )
        .rule(),
        "SAME_APPRECIATION"
    );
}

#[test]
fn nothing_changes_once_the_council_is_closed() {
    let e = refused(
        vec![closed()],
        appreciate(maths(), "Trop tard.", MATHS_TEACHER),
    );
    assert_eq!(e.rule(), "COUNCIL_CLOSED");
    Test::with(())
        .given(vec![closed()])
        .when(appreciate(maths(), "Trop tard.", MATHS_TEACHER))
        .then_expect_english_error(
            "the class council of 3A for period T1 is closed: the head must reopen it before any change",
        );
    Test::with(())
        .given(vec![closed()])
        .when(C::Reopen {
            by: HEAD.into(),
            reason: "Une appréciation manquait".into(),
            team: team(),
        })
        .then_expect_events(vec![V::CouncilReopened {
            by: HEAD.into(),
            reason: "Une appréciation manquait".into(),
        }]);
}

#[test]
fn only_the_head_records_decisions_and_they_must_agree() {
    let decide = |decisions: &[Decision], by: &str| C::Decide {
        student: "zoe".into(),
        decisions: decisions.iter().copied().collect(),
        by: by.into(),
        team: team(),
    };
    Test::with(())
        .given_no_previous_events()
        .when(decide(&[Decision::Felicitations], HEAD))
        .then_expect_events(vec![V::DecisionsRecorded {
            division: "3A".into(),
            period: "T1".into(),
            student: "zoe".into(),
            decisions: BTreeSet::from([Decision::Felicitations]),
            by: HEAD.into(),
        }]);
    assert_eq!(
        refused(Vec::new(), decide(&[Decision::Compliments], PP)).rule(),
        "HEADS_ONLY"
    );
    assert_eq!(
        refused(
            Vec::new(),
            decide(&[Decision::Encouragements, Decision::WarningConduct], HEAD)
        )
        .rule(),
        "DECISIONS_CLASH"
    );
    assert_eq!(
        refused(
            Vec::new(),
            decide(&[Decision::Felicitations, Decision::Compliments], HEAD)
        )
        .rule(),
        "DECISIONS_CLASH"
    );
    // Both warnings together are one decision of the council.
    Test::with(())
        .given_no_previous_events()
        .when(decide(
            &[Decision::WarningWork, Decision::WarningConduct],
            HEAD,
        ))
        .then_expect_events(vec![V::DecisionsRecorded {
            division: "3A".into(),
            period: "T1".into(),
            student: "zoe".into(),
            decisions: BTreeSet::from([Decision::WarningWork, Decision::WarningConduct]),
            by: HEAD.into(),
        }]);
}

#[test]
fn a_teacher_overrides_the_computed_positioning_and_the_override_is_kept() {
    let position = |level: Option<Level>, by: &str| C::Position {
        student: "zoe".into(),
        subject: "MATHS".into(),
        level,
        computed: Some(Level::Fragile),
        by: by.into(),
        team: team(),
    };
    let set = V::PositioningSet {
        division: "3A".into(),
        period: "T1".into(),
        student: "zoe".into(),
        subject: "MATHS".into(),
        level: Some(Level::Satisfactory),
        computed: Some(Level::Fragile),
        by: MATHS_TEACHER.into(),
    };
    Test::with(())
        .given_no_previous_events()
        .when(position(Some(Level::Satisfactory), MATHS_TEACHER))
        .then_expect_events(vec![set.clone()]);
    let mut council = ClassCouncil::default();
    council.apply(set);
    let o = &council.report("zoe").unwrap().positionings["MATHS"];
    assert_eq!(
        (o.level, o.computed),
        (Level::Satisfactory, Some(Level::Fragile))
    );
    assert_eq!(
        refused(Vec::new(), position(Some(Level::VeryGood), FRENCH_TEACHER)).rule(),
        "NOT_THEIR_SUBJECT"
    );
}

#[test]
fn the_bilan_de_fin_de_cycle_positions_all_eight_components() {
    let all: BTreeMap<Component, Level> = Component::ALL
        .iter()
        .map(|c| (*c, Level::Satisfactory))
        .collect();
    let assess = |levels: BTreeMap<Component, Level>, by: &str| C::AssessSocle {
        student: "zoe".into(),
        cycle: Cycle::Four,
        levels,
        by: by.into(),
        team: team(),
    };
    Test::with(())
        .given_no_previous_events()
        .when(assess(all.clone(), PP))
        .then_expect_events(vec![V::SocleAssessed {
            division: "3A".into(),
            period: "T1".into(),
            student: "zoe".into(),
            cycle: Cycle::Four,
            levels: all.clone(),
            by: PP.into(),
        }]);
    let mut partial = all.clone();
    partial.remove(&Component::ArtsAndBody);
    partial.remove(&Component::Citizenship);
    let e = refused(Vec::new(), assess(partial, PP));
    assert_eq!(e.rule(), "SOCLE_COMPONENTS_MISSING");
    assert!(e.to_string().contains("CPD_ART, FRM_CIT"), "{e}");
    assert_eq!(
        refused(Vec::new(), assess(all, MATHS_TEACHER)).rule(),
        "PRINCIPAL_TEACHER_ONLY"
    );
}

#[test]
fn bulletins_are_published_after_the_council_and_issued_after_publication() {
    let on = NaiveDate::from_ymd_opt(2026, 12, 18).unwrap();
    let publish = C::Publish {
        on,
        by: HEAD.into(),
        team: team(),
    };
    assert_eq!(
        refused(Vec::new(), publish.clone()).rule(),
        "PUBLISH_BEFORE_CLOSE"
    );
    let published = V::BulletinsPublished {
        on,
        by: HEAD.into(),
    };
    Test::with(())
        .given(vec![closed()])
        .when(publish.clone())
        .then_expect_events(vec![published.clone()]);
    assert_eq!(
        refused(vec![closed(), published.clone()], publish).rule(),
        "ALREADY_PUBLISHED"
    );
    let issued = Issued {
        code: "0750655E-K7QM-3XPA".into(),
        sources: vec!["class_council/2026-2027/3A/T1".into()],
        position: 42,
        event_hash: "ab".repeat(32),
        digest: "cd".repeat(32),
        issued_on: on,
    };
    let issue = C::Issue {
        student: "zoe".into(),
        issued: issued.clone(),
        by: "pers-parent".into(),
    };
    assert_eq!(
        refused(vec![closed()], issue.clone()).rule(),
        "NOT_PUBLISHED"
    );
    let done = V::BulletinIssued {
        student: "zoe".into(),
        issued,
        by: "pers-parent".into(),
    };
    Test::with(())
        .given(vec![closed(), published.clone()])
        .when(issue.clone())
        .then_expect_events(vec![done.clone()]);
    assert_eq!(
        refused(vec![closed(), published, done], issue).rule(),
        "VERIFICATION_CODE_TAKEN"
    );
}

fn framework_with(items: &[(&str, &str)]) -> CompetenceFramework {
    let mut framework = CompetenceFramework::default();
    for (id, subject) in items {
        framework.apply(FrameworkEvent::ItemDefined {
            id: (*id).into(),
            subject: (*subject).into(),
            label: format!("Compétence {id}"),
            component: Some(Component::ScientificLanguages),
        });
    }
    framework
}

#[test]
fn the_framework_checks_what_an_evaluation_may_assess() {
    let framework = framework_with(&[("M1", "MATHS"), ("F1", "FRANC")]);
    assert_eq!(framework.check_items("MATHS", &["M1".into()]), Ok(()));
    assert_eq!(
        framework.check_items("MATHS", &["F1".into()]),
        Err(FrameworkError::OtherSubject {
            item: "F1".into(),
            subject: "FRANC".into(),
            given: "MATHS".into()
        })
    );
    assert_eq!(
        framework.check_items("MATHS", &["X9".into()]),
        Err(FrameworkError::UnknownItem("X9".into()))
    );
    TestFramework::<CompetenceFramework>::with(())
        .given(vec![FrameworkEvent::ItemDefined {
            id: "M1".into(),
            subject: "MATHS".into(),
            label: "Chercher".into(),
            component: None,
        }])
        .when(FrameworkCommand::DefineItem {
            id: "M1".into(),
            subject: "MATHS".into(),
            label: "Modéliser".into(),
            component: None,
        })
        .then_expect_error(FrameworkError::ItemExists("M1".into()));
}

fn competence_evaluation(id: &str, items: &[&str], day: u32) -> GradebookEvent {
    GradebookEvent::EvaluationCreated(EvaluationSpec {
        evaluation: id.into(),
        class: "3A".into(),
        period: "T1".into(),
        subject: "MATHS".into(),
        teacher: MATHS_TEACHER.into(),
        title: format!("Compétences {id}"),
        date: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        scale: dec!(20),
        coefficient: dec!(0),
        bonus: false,
        not_handed_in: NotHandedIn::CountsAsZero,
        competences: items.iter().map(|i| (*i).to_string()).collect(),
    })
}

fn assess(evaluation: &str, levels: &[(&str, Level)]) -> GradebookCommand {
    GradebookCommand::AssessCompetences {
        evaluation: evaluation.into(),
        student: "zoe".into(),
        levels: levels.iter().map(|(i, l)| ((*i).to_string(), *l)).collect(),
        by: MATHS_TEACHER.into(),
    }
}

#[test]
fn an_evaluation_assesses_only_its_own_items() {
    TestFramework::<Gradebook>::with(())
        .given(vec![competence_evaluation("ev1", &["M1", "M2"], 5)])
        .when(assess("ev1", &[("M3", Level::Fragile)]))
        .then_expect_error(GradebookError::ItemNotAssessed {
            evaluation: "ev1".into(),
            item: "M3".into(),
        });
    TestFramework::<Gradebook>::with(())
        .given(vec![competence_evaluation("ev1", &["M1", "M2"], 5)])
        .when(assess("ev1", &[("M1", Level::Fragile)]))
        .then_expect_events(vec![GradebookEvent::CompetencesAssessed {
            evaluation: "ev1".into(),
            student: "zoe".into(),
            levels: BTreeMap::from([("M1".into(), Level::Fragile)]),
            by: MATHS_TEACHER.into(),
        }]);
}

#[test]
fn the_positioning_follows_the_stated_rule_across_evaluations() {
    let mut book = Gradebook::default();
    book.apply(competence_evaluation("ev1", &["M1", "M2"], 5));
    book.apply(competence_evaluation("ev2", &["M1"], 20));
    for (evaluation, levels) in [
        (
            "ev1",
            vec![("M1", Level::Insufficient), ("M2", Level::VeryGood)],
        ),
        ("ev2", vec![("M1", Level::Satisfactory)]),
    ] {
        book.apply(GradebookEvent::CompetencesAssessed {
            evaluation: evaluation.into(),
            student: "zoe".into(),
            levels: levels
                .into_iter()
                .map(|(i, l)| (i.to_string(), l))
                .collect(),
            by: MATHS_TEACHER.into(),
        });
    }
    let assessed = assessments(&book, "zoe", "MATHS");
    assert_eq!(assessed.len(), 3);
    // M1: (1 + 3) / 2 = 2; M2: 4; (2 + 4) / 2 = 3.
    assert_eq!(positioning(&assessed), Some(Level::Satisfactory));
    assert_eq!(positioning(&assessments(&book, "zoe", "FRANC")), None);
}

proptest! {
    /// The positioning is always one of the levels given, between the lowest and the
    /// highest of them.
    #[test]
    fn the_positioning_lies_between_the_levels_given(
        levels in proptest::collection::vec((0usize..5, 1u8..=4), 1..30)
    ) {
        let assessed: Vec<(String, Level)> = levels
            .iter()
            .map(|(item, l)| (format!("C{item}"), Level::from_value(*l).unwrap()))
            .collect();
        let p = positioning(&assessed).unwrap();
        let low = assessed.iter().map(|(_, l)| *l).min().unwrap();
        let high = assessed.iter().map(|(_, l)| *l).max().unwrap();
        prop_assert!(low <= p && p <= high, "{p:?} not in {low:?}..{high:?}");
    }

    /// Whatever the order of the council's commands, a closed council accepts no
    /// appreciation, and every accepted appreciation is the current text afterwards.
    #[test]
    fn a_closed_council_takes_no_appreciation(
        steps in proptest::collection::vec(0u8..4, 1..20)
    ) {
        let mut history: Vec<V> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let command = match step {
                0 => C::Close { by: HEAD.into(), team: team() },
                1 => C::Reopen { by: HEAD.into(), reason: "oubli".into(), team: team() },
                _ => appreciate(maths(), &format!("Texte {i}"), MATHS_TEACHER),
            };
            let mut council = ClassCouncil::default();
            for e in &history {
                council.apply(e.clone());
            }
            let was_closed = council.closed;
            let is_text = *step >= 2;
            if let Ok(events) = Test::with(()).given(history.clone()).when(command).inspect_result() {
                prop_assert!(!(was_closed && is_text));
                history.extend(events.clone());
                for e in events {
                    council.apply(e);
                }
                if is_text {
                    let text = council.report("zoe").unwrap().appreciations["MATHS"]
                        .text.in_clear().cloned();
                    prop_assert_eq!(text, Some(format!("Texte {i}")));
                }
            }
        }
    }
}
