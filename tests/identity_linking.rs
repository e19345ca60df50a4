//! Identity linking: people signed in by an ENT, whose token names them by the ENT's
//! identifier rather than Carnet's person id. Linked by the staff through
//! `linkExternalId`, a token for that identifier reads what the person may read; an
//! identity linked to nobody is refused with what is missing and how to link it.
#![allow(clippy::unwrap_used)]

mod support;

use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::server::{code, data, TestServer};

const CHILD: &str = "eleve00001";
const ENT: &str = "https://ent.monlycee.example";

const LINK: &str = "mutation($p: String!, $k: PersonKind!, $s: String!, $i: String!) {
  linkExternalId(input: { person: $p, kind: $k, scheme: $s, identifier: $i }) { stream version link { person kind } }
}";

const ME: &str = "{ me { person roles children } }";

const CHILD_RECORD: &str =
    "query($id: String!) { student(id: $id) { placement { division } guardians { id } } }";

async fn link(
    server: &TestServer,
    by: (&str, ClaimedRole),
    person: &str,
    kind: &str,
    id: &str,
) -> Value {
    server
        .as_(
            by.0,
            by.1,
            LINK,
            json!({ "p": person, "k": kind, "s": ENT, "i": id }),
        )
        .await
}

fn message(answer: &Value) -> String {
    answer["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ent_identities_act_as_the_people_they_are_linked_to() {
    let server = TestServer::start(BackendKind::Sqlite, 20).await;
    let principal = ("principal", ClaimedRole::Principal);
    let secretariat = ("secretariat", ClaimedRole::Secretariat);
    let child = server
        .as_(
            principal.0,
            principal.1,
            CHILD_RECORD,
            json!({ "id": CHILD }),
        )
        .await;
    let guardian = data(&child)["student"]["guardians"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Before any link, the ENT's identity is nobody here: refused, saying which
    // identifier, which establishment, and how to link it.
    let unlinked = server
        .as_("ent-4f1c9a", ClaimedRole::Guardian, ME, json!({}))
        .await;
    assert_eq!(code(&unlinked).as_deref(), Some("FORBIDDEN"), "{unlinked}");
    let refusal = message(&unlinked);
    for needed in ["ent-4f1c9a", server.uai.as_str(), "linkExternalId"] {
        assert!(refusal.contains(needed), "{needed} not in: {refusal}");
    }

    // A member of staff's identifier is the head's to link, not the secretariat's.
    let refused = link(&server, secretariat, "cpe1", "STAFF", "ent-cpe-1").await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
    let linked = link(&server, principal, "cpe1", "STAFF", "ent-cpe-1").await;
    assert!(linked["errors"].is_null(), "{linked}");
    // The guardian's is the secretariat's, who enrols the family.
    let linked = link(&server, secretariat, &guardian, "GUARDIAN", "ent-4f1c9a").await;
    assert!(linked["errors"].is_null(), "{linked}");

    // One identifier names one person: the refusal names who holds it.
    let twice = link(&server, principal, "principal", "STAFF", "ent-4f1c9a").await;
    assert_eq!(code(&twice).as_deref(), Some("RULE_VIOLATION"), "{twice}");
    assert!(message(&twice).contains(&guardian), "{twice}");
    // Someone who is not a guardian here cannot be linked as one.
    let nobody = link(&server, secretariat, "personne", "GUARDIAN", "ent-0").await;
    assert_eq!(code(&nobody).as_deref(), Some("VALIDATION"), "{nobody}");

    // The guardian, signed in by the ENT, is their Carnet self: their child, no other.
    let me = server
        .as_("ent-4f1c9a", ClaimedRole::Guardian, ME, json!({}))
        .await;
    assert_eq!(data(&me)["me"]["person"], json!(guardian), "{me}");
    assert!(data(&me)["me"]["children"]
        .as_array()
        .unwrap()
        .contains(&json!(CHILD)));
    let record = server
        .as_(
            "ent-4f1c9a",
            ClaimedRole::Guardian,
            CHILD_RECORD,
            json!({ "id": CHILD }),
        )
        .await;
    assert!(record["errors"].is_null(), "{record}");
    assert!(data(&record)["student"]["placement"]["division"].is_string());
    let other = server
        .as_(
            "ent-4f1c9a",
            ClaimedRole::Guardian,
            CHILD_RECORD,
            json!({ "id": "eleve00002" }),
        )
        .await;
    assert_eq!(code(&other).as_deref(), Some("FORBIDDEN"), "{other}");

    // The CPE, signed in by the ENT, sees the establishment's students.
    let me = server
        .as_("ent-cpe-1", ClaimedRole::Cpe, ME, json!({}))
        .await;
    assert_eq!(data(&me)["me"]["person"], json!("cpe1"), "{me}");
    assert_eq!(data(&me)["me"]["roles"], json!(["CPE"]), "{me}");
    let record = server
        .as_(
            "ent-cpe-1",
            ClaimedRole::Cpe,
            CHILD_RECORD,
            json!({ "id": "eleve00002" }),
        )
        .await;
    assert!(record["errors"].is_null(), "{record}");

    // Carnet's own tokens are unchanged: `sub` is the person id.
    let me = server.as_("cpe1", ClaimedRole::Cpe, ME, json!({})).await;
    assert_eq!(data(&me)["me"]["person"], json!("cpe1"), "{me}");
}

const UNLINK: &str = "mutation($s: String!, $i: String!) {
  unlinkExternalId(input: { scheme: $s, identifier: $i }) { changed link { person identifier } }
}";

/// An identifier linked to the wrong person is unlinked (by whom may link it) and linked
/// again to the right one; from the unlink on, its tokens find the first person no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_link_is_ended_and_the_identifier_linked_again() {
    let server = TestServer::start(BackendKind::Postgres, 20).await;
    let principal = ("principal", ClaimedRole::Principal);
    let secretariat = ("secretariat", ClaimedRole::Secretariat);
    let guardian_of = |record: &Value| {
        data(record)["student"]["guardians"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = guardian_of(
        &server
            .as_(
                principal.0,
                principal.1,
                CHILD_RECORD,
                json!({ "id": CHILD }),
            )
            .await,
    );
    let second = guardian_of(
        &server
            .as_(
                principal.0,
                principal.1,
                CHILD_RECORD,
                json!({ "id": "eleve00002" }),
            )
            .await,
    );
    let linked = link(&server, secretariat, &first, "GUARDIAN", "ent-7b2e").await;
    assert!(linked["errors"].is_null(), "{linked}");
    assert_eq!(
        data(&linked)["linkExternalId"]["link"],
        json!({ "person": first, "kind": "GUARDIAN" })
    );
    let me = server
        .as_("ent-7b2e", ClaimedRole::Guardian, ME, json!({}))
        .await;
    assert_eq!(data(&me)["me"]["person"], json!(first));

    // The CPE may not (links are enrolment's); a staff member's link is the head's to end.
    let refused = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            UNLINK,
            json!({ "s": ENT, "i": "ent-7b2e" }),
        )
        .await;
    assert_eq!(code(&refused).as_deref(), Some("FORBIDDEN"), "{refused}");
    assert!(link(&server, principal, "cpe1", "STAFF", "ent-cpe-9").await["errors"].is_null());
    let staff = server
        .as_(
            secretariat.0,
            secretariat.1,
            UNLINK,
            json!({ "s": ENT, "i": "ent-cpe-9" }),
        )
        .await;
    assert_eq!(code(&staff).as_deref(), Some("FORBIDDEN"), "{staff}");

    let ended = server
        .as_(
            secretariat.0,
            secretariat.1,
            UNLINK,
            json!({ "s": ENT, "i": "ent-7b2e" }),
        )
        .await;
    assert_eq!(
        data(&ended)["unlinkExternalId"]["changed"],
        json!(true),
        "{ended}"
    );
    assert_eq!(
        data(&ended)["unlinkExternalId"]["link"],
        json!({ "person": first, "identifier": "ent-7b2e" })
    );
    let nobody = server
        .as_("ent-7b2e", ClaimedRole::Guardian, ME, json!({}))
        .await;
    assert_eq!(code(&nobody).as_deref(), Some("FORBIDDEN"), "{nobody}");
    let again = server
        .as_(
            secretariat.0,
            secretariat.1,
            UNLINK,
            json!({ "s": ENT, "i": "ent-7b2e" }),
        )
        .await;
    assert_eq!(code(&again).as_deref(), Some("RULE_VIOLATION"), "{again}");
    assert!(message(&again).contains("ent-7b2e"), "{again}");

    let relinked = link(&server, secretariat, &second, "GUARDIAN", "ent-7b2e").await;
    assert!(relinked["errors"].is_null(), "{relinked}");
    let me = server
        .as_("ent-7b2e", ClaimedRole::Guardian, ME, json!({}))
        .await;
    assert_eq!(data(&me)["me"]["person"], json!(second), "{me}");
}
