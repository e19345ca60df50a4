//! Notifications that reach parents: a roll call's absence goes out by e-mail to a real
//! SMTP server (Python's aiosmtpd, started by the test) and by signed webhooks to a real
//! HTTP receiver that checks the signature; a receiver down for a minute gets everything
//! once back; a notifier SIGKILLed mid-send loses nothing; a refused address becomes a
//! dead letter staff see and can send again; an erased guardian is sent nothing more.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use carnet::notify::{Notifier, NotifyConfig};
use carnet_api::auth::ClaimedRole;
use carnet_store::BackendKind;
use serde_json::{json, Value};
use support::process::free_port;
use support::server::{code, data, TestServer};

const STUDENTS: usize = 60;
const SECRET: &str = "un-secret-partagé-de-test-0123456789";

/// A helper process (SMTP server, HTTP receiver) killed when dropped.
struct Sink {
    child: Child,
    out: PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(script: &str, args: &[&str]) -> Child {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let mut child = Command::new("python3")
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 (with aiosmtpd: pip install aiosmtpd)");
    // Wait for its "ready".
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("its stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read its first line");
    assert_eq!(line.trim(), "ready", "{script} did not start");
    child
}

fn smtp_sink(port: u16, out: &Path, extra: &[&str]) -> Sink {
    let port = port.to_string();
    let out_s = out.to_str().unwrap();
    let mut args = vec![port.as_str(), out_s];
    args.extend_from_slice(extra);
    Sink {
        child: python("smtp_sink.py", &args),
        out: out.to_path_buf(),
    }
}

fn webhook_sink(port: u16, out: &Path) -> Sink {
    Sink {
        child: python(
            "webhook_sink.py",
            &[&port.to_string(), out.to_str().unwrap(), SECRET],
        ),
        out: out.to_path_buf(),
    }
}

/// What a sink kept: one file per message received (duplicates included).
fn received(out: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn config(smtp_port: u16, hook_port: u16, retry: &str) -> String {
    format!(
        "[smtp]\nurl = \"smtp://127.0.0.1:{smtp_port}\"\nfrom = \"Vie scolaire <vie-scolaire@college.exemple.fr>\"\ntimeout_seconds = 10\n\n\
         [[webhook]]\nchannel = \"sms\"\nurl = \"http://127.0.0.1:{hook_port}/sms\"\nsecret = \"{SECRET}\"\ntimeout_seconds = 5\n\n\
         [[webhook]]\nchannel = \"ent\"\nurl = \"http://127.0.0.1:{hook_port}/ent\"\nsecret = \"{SECRET}\"\ntimeout_seconds = 5\n\n\
         [retry]\n{retry}\n"
    )
}

/// The guardian (with the right to be told) of `student`.
async fn guardian_of(server: &TestServer, student: &str) -> String {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!) { student(id: $id) { guardians { id notified } } }",
            json!({ "id": student }),
        )
        .await;
    data(&answer)["student"]["guardians"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["notified"] == json!(true))
        .expect("a guardian who is told")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A lesson of `student` on `date` and its teacher.
async fn lesson_of(server: &TestServer, student: &str, date: &str) -> (String, String) {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!, $d: Date!) { student(id: $id) { timetable(from: $d, to: $d) { localId teachers } } }",
            json!({ "id": student, "d": date }),
        )
        .await;
    let lesson = &data(&answer)["student"]["timetable"][0];
    (
        lesson["localId"].as_str().unwrap().to_string(),
        lesson["teachers"][0].as_str().unwrap().to_string(),
    )
}

async fn record_contact(
    server: &TestServer,
    guardian: &str,
    email: Option<&str>,
    mobile: Option<&str>,
) {
    let answer = server
        .as_(
            "secretariat",
            ClaimedRole::Secretariat,
            "mutation($g: String!, $e: String, $m: String) { recordGuardianContact(input: { guardian: $g, email: $e, mobile: $m }) { changed } }",
            json!({ "g": guardian, "e": email, "m": mobile }),
        )
        .await;
    assert_eq!(
        data(&answer)["recordGuardianContact"]["changed"],
        json!(true)
    );
}

async fn link_ent(server: &TestServer, guardian: &str) {
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "mutation($p: String!, $i: String!) { linkExternalId(input: { person: $p, kind: GUARDIAN, scheme: \"ENTPersonJointure\", identifier: $i }) { changed } }",
            json!({ "p": guardian, "i": format!("AC-PARIS$ENT{guardian}") }),
        )
        .await;
    assert_eq!(
        data(&answer)["linkExternalId"]["changed"],
        json!(true),
        "{answer}"
    );
}

/// The first demo students' record of who is told and by what; absent at a lesson of
/// `date` each.
async fn absent(server: &TestServer, students: &[String], date: &str) {
    for student in students {
        let (lesson, teacher) = lesson_of(server, student, date).await;
        let answer = server
            .as_(
                &teacher,
                ClaimedRole::Teacher,
                "mutation($l: String!, $s: String!) { recordAttendance(input: { lesson: $l, student: $s, status: { kind: ABSENT } }) { changed } }",
                json!({ "l": lesson, "s": student }),
            )
            .await;
        assert_eq!(
            data(&answer)["recordAttendance"]["changed"],
            json!(true),
            "{answer}"
        );
    }
}

async fn deliveries(server: &TestServer, status: Option<&str>) -> Vec<Value> {
    let answer = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            "query($s: DeliveryStatus) { notificationDeliveries(status: $s, first: 500) { id notice channel guardian student status attempts lastError } }",
            json!({ "s": status }),
        )
        .await;
    data(&answer)["notificationDeliveries"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (up to `seconds`) until `ready` holds of the deliveries.
async fn until(server: &TestServer, seconds: u64, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..seconds * 5 {
        let all = deliveries(server, None).await;
        if ready(&all) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "still not as expected after {seconds} s: {:#?}",
        deliveries(server, None).await
    );
}

fn students(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("eleve{i:05}")).collect()
}

fn ids(rows: &[Value]) -> BTreeSet<String> {
    rows.iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// An absence goes out by e-mail, in French, with the delivery id as Message-ID; the
/// guardian who muted absences gets none.
async fn an_absence_reaches_the_guardian_by_email(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let smtp = smtp_sink(smtp_port, dir.path(), &[]);
    let kids = students(2);
    let told = guardian_of(&server, &kids[0]).await;
    let muted = guardian_of(&server, &kids[1]).await;
    record_contact(&server, &told, Some("hélène.durand@exemple.fr"), None).await;
    record_contact(&server, &muted, Some("muet@exemple.fr"), None).await;
    let answer = server
        .as_(
            &muted,
            ClaimedRole::Guardian,
            "mutation { setNotificationPreferences(input: { muted: [ABSENCE], language: EN }) { changed preferences { muted language } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&answer)["setNotificationPreferences"]["changed"],
        json!(true)
    );
    assert_eq!(
        data(&answer)["setNotificationPreferences"]["preferences"],
        json!({ "muted": ["ABSENCE"], "language": "EN" })
    );
    let mine = server
        .as_(
            &told,
            ClaimedRole::Guardian,
            "query($g: String!) { notificationPreferences(guardian: $g) { email mobile entLinked channels muted language } }",
            json!({ "g": told }),
        )
        .await;
    assert_eq!(
        data(&mine)["notificationPreferences"],
        json!({ "email": "hélène.durand@exemple.fr", "mobile": null, "entLinked": false, "channels": null, "muted": [], "language": "FR" })
    );
    // Another guardian's addresses are not a guardian's business.
    let other = server
        .as_(
            &muted,
            ClaimedRole::Guardian,
            "query($g: String!) { notificationPreferences(guardian: $g) { email } }",
            json!({ "g": told }),
        )
        .await;
    assert_eq!(code(&other).as_deref(), Some("FORBIDDEN"), "{other}");

    absent(&server, &kids, "2026-12-01").await;
    let queued = until(&server, 60, |d| !d.is_empty()).await;
    assert_eq!(
        queued.len(),
        1,
        "only the guardian who did not mute absences: {queued:#?}"
    );
    assert_eq!(queued[0]["guardian"], json!(told));
    assert_eq!(
        (queued[0]["channel"].as_str(), queued[0]["notice"].as_str()),
        (Some("email"), Some("absence"))
    );

    let config = NotifyConfig::parse(&config(smtp_port, free_port(), "base_seconds = 1")).unwrap();
    let notifier = Notifier::new(&server.store, config).unwrap();
    assert_eq!(notifier.round().await.unwrap(), 1);
    let sent = deliveries(&server, Some("SENT")).await;
    assert_eq!(ids(&sent), ids(&queued));
    let mails = received(&smtp.out);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail: Value = serde_json::from_str(&mails[0].1).unwrap();
    let id = queued[0]["id"].as_str().unwrap();
    assert_eq!(mail["message_id"], json!(format!("<{id}@carnet>")));
    assert_eq!(mail["rcpt_tos"], json!(["hélène.durand@exemple.fr"]));
    assert_eq!(
        (mail["content_type"].as_str(), mail["charset"].as_str()),
        (Some("text/plain"), Some("utf-8"))
    );
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Absence de ") && subject.ends_with("— Collège Jean Moulin (démo)"),
        "{subject}"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("a été noté(e) absent(e) le mardi 1er décembre 2026 au cours de "),
        "{text}"
    );
    assert!(
        text.contains("La vie scolaire — Collège Jean Moulin (démo)"),
        "{text}"
    );
    // Nothing left to send.
    assert_eq!(notifier.round().await.unwrap(), 0);
}

#[tokio::test]
async fn an_absence_reaches_the_guardian_by_email_on_sqlite() {
    an_absence_reaches_the_guardian_by_email(BackendKind::Sqlite).await;
}

#[tokio::test]
async fn an_absence_reaches_the_guardian_by_email_on_postgres() {
    an_absence_reaches_the_guardian_by_email(BackendKind::Postgres).await;
}

/// The SMS gateway and the ENT are down for a minute while absences are recorded: the
/// notifier keeps trying with its backoff, and once they are back every notification
/// arrives, signed (the receiver checks the HMAC and refuses anything else).
#[tokio::test]
async fn a_receiver_down_for_a_minute_gets_everything_after() {
    let server = TestServer::start(BackendKind::Postgres, STUDENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let hook_port = free_port();
    let kids = students(3);
    for kid in &kids {
        let guardian = guardian_of(&server, kid).await;
        record_contact(&server, &guardian, None, Some("06 12 34 56 78")).await;
        link_ent(&server, &guardian).await;
    }
    let retry = "base_seconds = 1\nmax_seconds = 4\nmax_attempts = 1000\nlease_seconds = 10\npoll_seconds = 0.2";
    let config = NotifyConfig::parse(&config(free_port(), hook_port, retry)).unwrap();
    let notifier = Notifier::new(&server.store, config).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(async move {
        let mut stopped = stopped;
        notifier
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });

    absent(&server, &kids, "2026-12-02").await;
    let queued = until(&server, 60, |d| d.len() == 6).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let waiting = deliveries(&server, Some("PENDING")).await;
    assert_eq!(
        waiting.len(),
        6,
        "nothing sent, nothing given up: {waiting:#?}"
    );
    assert!(
        waiting.iter().all(|d| d["attempts"].as_i64().unwrap() >= 5
            && d["lastError"]
                .as_str()
                .is_some_and(|e| e.contains("webhook"))),
        "tried again and again, saying why: {waiting:#?}"
    );

    let hooks = webhook_sink(hook_port, dir.path());
    let sent = until(&server, 30, |d| {
        d.iter().all(|x| x["status"] == json!("SENT"))
    })
    .await;
    let _ = stop.send(true);
    running.await.unwrap();
    assert_eq!(ids(&sent), ids(&queued));
    let got = received(&hooks.out);
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for (name, body) in &got {
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            name.split('.').next(),
            body["id"].as_str(),
            "the header names the body's delivery"
        );
        by_id.insert(body["id"].as_str().unwrap().to_string(), body);
    }
    assert_eq!(by_id.keys().cloned().collect::<BTreeSet<_>>(), ids(&queued));
    let channels: BTreeSet<&str> = by_id
        .values()
        .map(|b| b["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, BTreeSet::from(["ent", "sms"]));
    for body in by_id.values() {
        match body["channel"].as_str().unwrap() {
            "sms" => assert_eq!(body["to"]["mobile"], json!("+33612345678")),
            _ => assert_eq!(body["to"]["ent"][0]["scheme"], json!("ENTPersonJointure")),
        }
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("mercredi 2 décembre 2026"),
            "{body}"
        );
    }
}

/// `carnet notify` is SIGKILLed while the SMTP relay holds its messages: the deliveries
/// it had claimed stay leased, a restarted notifier takes them once the lease runs out,
/// and every one arrives (some twice: the receiver knows them by Message-ID).
#[tokio::test]
async fn a_notifier_killed_mid_send_loses_nothing() {
    let server = TestServer::start(BackendKind::Postgres, STUDENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    let smtp_port = free_port();
    let smtp = smtp_sink(smtp_port, &mail_dir, &["--delay", "3"]);
    let kids = students(4);
    for (i, kid) in kids.iter().enumerate() {
        let guardian = guardian_of(&server, kid).await;
        record_contact(
            &server,
            &guardian,
            Some(&format!("parent{i}@exemple.fr")),
            None,
        )
        .await;
    }
    absent(&server, &kids, "2026-12-03").await;
    let queued = until(&server, 60, |d| d.len() == 4).await;

    let file = dir.path().join("notify.toml");
    let retry = "base_seconds = 1\nmax_seconds = 2\nlease_seconds = 6\npoll_seconds = 0.2";
    std::fs::write(&file, config(smtp_port, free_port(), retry)).unwrap();
    server
        .db()
        .keyring()
        .save(&dir.path().join(carnet_store::keyring::FILE_NAME))
        .unwrap();
    let url = server.db().pg_url().unwrap().to_string();
    let notify = || {
        support::process::carnet(
            dir.path(),
            &url,
            &["notify", "--config", file.to_str().unwrap()],
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
    };
    let mut first = notify();
    // Claimed and in the relay's hands, not yet accepted: killed there.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let after_kill = deliveries(&server, Some("SENT")).await;
    assert!(
        after_kill.is_empty(),
        "killed before any was settled: {after_kill:#?}"
    );

    let mut second = notify();
    let sent = until(&server, 60, |d| {
        d.iter().all(|x| x["status"] == json!("SENT"))
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(ids(&sent), ids(&queued));
    assert!(
        sent.iter().all(|d| d["attempts"].as_i64().unwrap() >= 2),
        "each taken again after the kill: {sent:#?}"
    );
    // Let the relay finish what the killed notifier left in its hands.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mails = received(&smtp.out);
    let message_ids: Vec<String> = mails
        .iter()
        .map(|(_, m)| {
            let mail: Value = serde_json::from_str(m).unwrap();
            let id = mail["message_id"].as_str().unwrap();
            id.trim_start_matches('<')
                .trim_end_matches("@carnet>")
                .to_string()
        })
        .collect();
    let distinct: BTreeSet<String> = message_ids.iter().cloned().collect();
    assert_eq!(distinct, ids(&queued), "every notification arrived");
    assert!(message_ids.len() >= queued.len(), "at least once");
}

/// A mailbox the relay refuses for good is a dead letter at once, with the relay's
/// answer; vie scolaire sees it and sends it again; teachers see none of this. A
/// guardian erased before their notification is sent is sent nothing.
async fn dead_letters_and_erasure(kind: BackendKind) {
    let server = TestServer::start(kind, STUDENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let _smtp = smtp_sink(smtp_port, dir.path(), &["--reject", "inconnu@exemple.fr"]);
    let kids = students(2);
    let refused = guardian_of(&server, &kids[0]).await;
    let erased = guardian_of(&server, &kids[1]).await;
    record_contact(&server, &refused, Some("inconnu@exemple.fr"), None).await;
    record_contact(&server, &erased, Some("efface@exemple.fr"), None).await;
    absent(&server, &kids, "2026-12-04").await;
    until(&server, 60, |d| d.len() == 2).await;

    let school =
        carnet_store::School::new(server.store.clone(), server.uai.clone(), Default::default());
    school
        .erase_person(
            &erased,
            "demande RGPD",
            &carnet_store::CommandContext {
                actor: Some("principal".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let config = NotifyConfig::parse(&config(smtp_port, free_port(), "base_seconds = 1")).unwrap();
    let notifier = Notifier::new(&server.store, config).unwrap();
    assert_eq!(notifier.round().await.unwrap(), 2);
    let dead = deliveries(&server, Some("DEAD")).await;
    assert_eq!(dead.len(), 1, "{dead:#?}");
    assert_eq!(dead[0]["guardian"], json!(refused));
    assert!(
        dead[0]["lastError"].as_str().unwrap().contains("550"),
        "{dead:#?}"
    );
    let dropped = deliveries(&server, Some("DROPPED")).await;
    assert_eq!(dropped.len(), 1, "{dropped:#?}");
    assert_eq!(dropped[0]["guardian"], json!(erased));

    let (_, teacher_id) = lesson_of(&server, &kids[0], "2026-12-04").await;
    let teacher = server
        .as_(
            &teacher_id,
            ClaimedRole::Teacher,
            "{ notificationDeliveries { id } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&teacher).as_deref(), Some("FORBIDDEN"), "{teacher}");
    let retry = "mutation($id: String!) { retryNotification(input: { id: $id }) { delivery { id status } } }";
    let again = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            retry,
            json!({ "id": dead[0]["id"] }),
        )
        .await;
    assert_eq!(
        data(&again)["retryNotification"]["delivery"],
        json!({ "id": dead[0]["id"], "status": "PENDING" }),
        "{again}"
    );
    let pending = deliveries(&server, Some("PENDING")).await;
    assert_eq!(ids(&pending), ids(&dead));
    let twice = server
        .as_(
            "cpe1",
            ClaimedRole::Cpe,
            retry,
            json!({ "id": dead[0]["id"] }),
        )
        .await;
    assert_eq!(
        code(&twice).as_deref(),
        Some("NOT_FOUND"),
        "only a dead letter is sent again"
    );
}

#[tokio::test]
async fn dead_letters_and_erasure_on_sqlite() {
    dead_letters_and_erasure(BackendKind::Sqlite).await;
}

#[tokio::test]
async fn dead_letters_and_erasure_on_postgres() {
    dead_letters_and_erasure(BackendKind::Postgres).await;
}

/// A bad address or number is refused naming the field, and nothing is recorded.
#[tokio::test]
async fn bad_addresses_are_refused() {
    let server = TestServer::start(BackendKind::Sqlite, STUDENTS).await;
    let guardian = guardian_of(&server, "eleve00001").await;
    for (email, mobile) in [
        (Some("a@b\r\nBcc: x@y.fr"), None),
        (None, Some("01 45 67 89 10")),
    ] {
        let answer = server
            .as_(
                "secretariat",
                ClaimedRole::Secretariat,
                "mutation($g: String!, $e: String, $m: String) { recordGuardianContact(input: { guardian: $g, email: $e, mobile: $m }) { changed } }",
                json!({ "g": guardian, "e": email, "m": mobile }),
            )
            .await;
        assert_eq!(code(&answer).as_deref(), Some("RULE_VIOLATION"), "{answer}");
    }
    let (_, teacher_id) = lesson_of(&server, "eleve00001", "2026-12-01").await;
    let teacher = server
        .as_(
            &teacher_id,
            ClaimedRole::Teacher,
            "mutation($g: String!) { recordGuardianContact(input: { guardian: $g, email: \"a@exemple.fr\" }) { changed } }",
            json!({ "g": guardian }),
        )
        .await;
    assert_eq!(code(&teacher).as_deref(), Some("FORBIDDEN"), "{teacher}");
}

/// Marks are told only where the head turned it on; then a guardian who is told of
/// absences gets each mark entered, on its scale with a decimal comma.
#[tokio::test]
async fn marks_are_told_where_the_establishment_wants_it() {
    let server = TestServer::start(BackendKind::Postgres, STUDENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let smtp = smtp_sink(smtp_port, dir.path(), &[]);
    let kid = "eleve00001";
    let guardian = guardian_of(&server, kid).await;
    record_contact(&server, &guardian, Some("parent.notes@exemple.fr"), None).await;
    let answer = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            "query($id: String!, $d: Date!) { student(id: $id) { placement { division } timetable(from: $d, to: $d) { teachers subject } } }",
            json!({ "id": kid, "d": "2026-12-04" }),
        )
        .await;
    let student = &data(&answer)["student"];
    let division = student["placement"]["division"]
        .as_str()
        .unwrap()
        .to_string();
    let lesson = student["timetable"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["subject"].as_str().is_some())
        .unwrap();
    let (teacher, subject) = (
        lesson["teachers"][0].as_str().unwrap().to_string(),
        lesson["subject"].as_str().unwrap().to_string(),
    );
    let mark = |title: &'static str, score: &'static str| {
        let (server, teacher, division, subject) = (&server, &teacher, &division, &subject);
        async move {
            let created = server
                .as_(
                    teacher,
                    ClaimedRole::Teacher,
                    "mutation($c: String!, $s: String!, $t: String!) { createEvaluation(input: { class: $c, subject: $s, title: $t, date: \"2026-12-04\" }) { created } }",
                    json!({ "c": division, "s": subject, "t": title }),
                )
                .await;
            let evaluation = data(&created)["createEvaluation"]["created"]
                .as_str()
                .unwrap()
                .to_string();
            let entered = server
                .as_(
                    teacher,
                    ClaimedRole::Teacher,
                    "mutation($c: String!, $e: String!, $s: String!, $m: Decimal) { enterMark(input: { class: $c, evaluation: $e, student: $s, mark: { score: $m } }) { changed mark { mark { score } } } }",
                    json!({ "c": division, "e": evaluation, "s": "eleve00001", "m": score }),
                )
                .await;
            assert_eq!(
                data(&entered)["enterMark"]["changed"],
                json!(true),
                "{entered}"
            );
            // The payload holds the mark as it now reads.
            assert_eq!(
                data(&entered)["enterMark"]["mark"]["mark"]["score"],
                json!(score),
                "{entered}"
            );
        }
    };
    // Off by default: a mark tells no one.
    mark("Contrôle sans avis", "12").await;
    let set = "mutation($on: Boolean!) { setMarkNotifications(input: { enabled: $on }) { changed enabled } }";
    let refused = server
        .as_(&teacher, ClaimedRole::Teacher, set, json!({ "on": true }))
        .await;
    assert_eq!(
        code(&refused).as_deref(),
        Some("FORBIDDEN"),
        "the head's choice: {refused}"
    );
    let on = server
        .as_(
            "principal",
            ClaimedRole::Principal,
            set,
            json!({ "on": true }),
        )
        .await;
    assert_eq!(
        data(&on)["setMarkNotifications"]["changed"],
        json!(true),
        "{on}"
    );
    assert_eq!(data(&on)["setMarkNotifications"]["enabled"], json!(true));
    mark("Fractions", "14.5").await;
    let queued = until(&server, 60, |d| !d.is_empty()).await;
    assert_eq!(
        queued.len(),
        1,
        "only the mark entered once it was on: {queued:#?}"
    );
    assert_eq!(queued[0]["notice"], json!("mark"));

    let config = NotifyConfig::parse(&config(smtp_port, free_port(), "base_seconds = 1")).unwrap();
    let notifier = Notifier::new(&server.store, config).unwrap();
    assert_eq!(notifier.round().await.unwrap(), 1);
    let mails = received(&smtp.out);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail: Value = serde_json::from_str(&mails[0].1).unwrap();
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("a reçu la note de 14,5/20 en {subject} pour l'évaluation « Fractions » du vendredi 4 décembre 2026.")),
        "{text}"
    );
}
