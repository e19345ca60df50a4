//! Notifications through the API: a guardian's addresses and preferences
//! (`recordGuardianContact`, `setNotificationPreferences`, `notificationPreferences`),
//! and the deliveries staff follow (`notificationDeliveries`, with the dead letters and
//! their reasons, and `retryNotification`).
//!
//! Who may do what: a guardian their own addresses and preferences; the secretariat, the
//! CPE and the head any guardian's addresses (they hold them from the enrolment file);
//! vie scolaire and the administration the deliveries of their establishment.

use std::collections::BTreeSet;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use carnet_domain::contact::{
    Channel, ContactCommand, ContactEvent, GuardianContact, Language, Notice, Preferences,
};
use carnet_domain::enrolment::{EstablishmentCommand, Role};
use carnet_projections::notifications::outbox::{self, Delivery};
use carnet_projections::notifications::Reach;
use carnet_store::StreamRef;
use cqrs_es::Aggregate;

use crate::access::Actor;
use crate::error::{ApiError, ApiResult};
use crate::i18n::Text;
use crate::reader::Reader;
use crate::schema::context::{payload, Command, CommandOptions};

type GqlResult<T> = async_graphql::Result<T>;

/// Most deliveries one request lists.
const MAX_LISTED: i32 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NotificationChannel {
    Email,
    Sms,
    Ent,
}

impl From<NotificationChannel> for Channel {
    fn from(c: NotificationChannel) -> Channel {
        match c {
            NotificationChannel::Email => Channel::Email,
            NotificationChannel::Sms => Channel::Sms,
            NotificationChannel::Ent => Channel::Ent,
        }
    }
}

impl From<Channel> for NotificationChannel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::Email => NotificationChannel::Email,
            Channel::Sms => NotificationChannel::Sms,
            Channel::Ent => NotificationChannel::Ent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NoticeKind {
    Absence,
    Alert,
    Justification,
    /// A mark entered, where the establishment tells families of marks.
    Mark,
}

impl From<NoticeKind> for Notice {
    fn from(n: NoticeKind) -> Notice {
        match n {
            NoticeKind::Absence => Notice::Absence,
            NoticeKind::Alert => Notice::Alert,
            NoticeKind::Justification => Notice::Justification,
            NoticeKind::Mark => Notice::Mark,
        }
    }
}

impl From<Notice> for NoticeKind {
    fn from(n: Notice) -> Self {
        match n {
            Notice::Absence => NoticeKind::Absence,
            Notice::Alert => NoticeKind::Alert,
            Notice::Justification => NoticeKind::Justification,
            Notice::Mark => NoticeKind::Mark,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MessageLanguage {
    Fr,
    En,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum DeliveryStatus {
    /// Waiting to be sent, or to be tried again.
    Pending,
    Sent,
    /// Given up: the reason is in `lastError`; `retryNotification` sends it again.
    Dead,
    /// Nothing left to send it to (the guardian erased, the address removed).
    Dropped,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Dropped => "dropped",
        }
    }

    fn parse(s: &str) -> DeliveryStatus {
        match s {
            "sent" => DeliveryStatus::Sent,
            "dead" => DeliveryStatus::Dead,
            "dropped" => DeliveryStatus::Dropped,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// How a guardian is reached, and what they chose.
#[derive(Debug, Clone, SimpleObject)]
pub struct NotificationPreferences {
    pub guardian: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    /// Whether an ENT identity is linked (the ENT channel).
    pub ent_linked: bool,
    /// The channels chosen; `null` until the guardian chooses (every channel they can
    /// be reached by).
    pub channels: Option<Vec<NotificationChannel>>,
    pub muted: Vec<NoticeKind>,
    pub language: MessageLanguage,
}

/// One notification to one guardian by one channel.
#[derive(Debug, Clone, SimpleObject)]
pub struct NotificationDelivery {
    /// The id the receiver sees (`Message-ID`, `Carnet-Delivery`).
    pub id: String,
    pub notice: String,
    pub channel: String,
    pub guardian: String,
    pub student: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The log position of the event that called for it.
    pub position: i64,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<Delivery> for NotificationDelivery {
    fn from(d: Delivery) -> Self {
        let at = chrono::DateTime::from_timestamp_micros;
        let status = DeliveryStatus::parse(&d.status);
        NotificationDelivery {
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| at(d.next_at))
                .flatten(),
            id: d.id,
            notice: d.notice,
            channel: d.channel,
            guardian: d.guardian,
            student: d.student,
            status,
            attempts: d.attempts,
            last_error: d.last_error,
            position: d.position,
            created_at: at(d.created_at),
            sent_at: d.sent_at.and_then(at),
        }
    }
}

/// Whether `actor` may read and change `guardian`'s addresses: the guardian, or the
/// staff who keep the families' details.
fn may_reach(actor: &Actor, guardian: &str) -> ApiResult<()> {
    let own = actor.person == guardian && !actor.children.is_empty();
    let staff = [Role::Secretariat, Role::Cpe, Role::Principal]
        .iter()
        .any(|r| actor.is(*r));
    (own || staff || actor.auditor)
        .then_some(())
        .ok_or_else(|| {
            ApiError::forbidden(Text::new(
                format!("vous ne pouvez ni voir ni modifier les coordonnées de {guardian}"),
                format!("you may not see or change how {guardian} is reached"),
            ))
        })
}

/// The deliveries of the establishment: vie scolaire and the administration.
fn may_follow(actor: &Actor) -> ApiResult<()> {
    actor.sees_establishment().then_some(()).ok_or_else(|| {
        ApiError::forbidden(Text::new(
            "le suivi des notifications est réservé à la vie scolaire",
            "notifications are followed by vie scolaire",
        ))
    })
}

/// `notificationPreferences(guardian)`, read from the guardian's own stream (a few
/// events) rather than a read model: what a guardian or the secretariat just recorded is
/// what they read back, whatever the projectors' lag.
pub(crate) async fn preferences(
    ctx: &Context<'_>,
    guardian: String,
) -> ApiResult<NotificationPreferences> {
    let (reader, actor) = crate::schema::caller(ctx, None).await?;
    may_reach(&actor, &guardian)?;
    reach_of(&reader, guardian).await
}

/// How `guardian` is reached, from their own stream: what was just recorded is read
/// back, whatever the projectors' lag. The caller may see it (`may_reach`).
async fn reach_of(reader: &Reader, guardian: String) -> ApiResult<NotificationPreferences> {
    let stream = StreamRef::new(GuardianContact::TYPE, guardian.as_str());
    let events = reader
        .store
        .read_stream(&reader.tenant, &stream, 0)
        .await
        .map_err(ApiError::from)?;
    let mut reach = Reach::default();
    for event in &events {
        let payload = event.current_payload().map_err(ApiError::from)?;
        match serde_json::from_value::<ContactEvent>(payload) {
            Ok(ContactEvent::ContactRecorded { email, mobile, .. }) => {
                reach.email = email;
                reach.mobile = mobile;
            }
            Ok(ContactEvent::PreferencesSet {
                channels,
                muted,
                language,
                ..
            }) => {
                reach.preferences = Preferences {
                    channels,
                    muted,
                    language,
                }
            }
            Err(e) => return Err(ApiError::internal(&e)),
        }
    }
    // Linked ENT identities: the establishment's record, kept inline.
    let establishment = reader.establishment().await?;
    let ent_linked = establishment
        .external_ids
        .values()
        .any(|link| link.person == guardian);
    let email = match &reach.email {
        Some(v) => reader.open(v).await?,
        None => None,
    };
    let mobile = match &reach.mobile {
        Some(v) => reader.open(v).await?,
        None => None,
    };
    let p = reach.preferences;
    Ok(NotificationPreferences {
        email,
        mobile,
        ent_linked,
        channels: p
            .channels
            .map(|c| c.into_iter().map(NotificationChannel::from).collect()),
        muted: p.muted.into_iter().map(NoticeKind::from).collect(),
        language: match p.language {
            Language::Fr => MessageLanguage::Fr,
            Language::En => MessageLanguage::En,
        },
        guardian,
    })
}

/// `notificationDeliveries(status, first)`: newest first.
pub(crate) async fn deliveries(
    ctx: &Context<'_>,
    status: Option<DeliveryStatus>,
    first: Option<i32>,
) -> ApiResult<Vec<NotificationDelivery>> {
    let (reader, actor) = crate::schema::caller(ctx, None).await?;
    may_follow(&actor)?;
    let first = first.unwrap_or(100);
    if !(1..=MAX_LISTED).contains(&first) {
        return Err(ApiError::validation(
            "first",
            Text::new(
                format!("entre 1 et {MAX_LISTED}"),
                format!("between 1 and {MAX_LISTED}"),
            ),
        ));
    }
    let rows = outbox::list(
        &reader.pool,
        reader.tenant.as_str(),
        status.map(DeliveryStatus::as_str),
        i64::from(first),
    )
    .await?;
    Ok(rows.into_iter().map(NotificationDelivery::from).collect())
}

#[derive(Debug, Default)]
pub struct NotificationMutation;

/// A guardian's addresses (a missing one is removed).
#[derive(Debug, Clone, InputObject)]
pub struct RecordGuardianContactInput {
    pub guardian: String,
    pub email: Option<String>,
    /// A mobile number, for SMS.
    pub mobile: Option<String>,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The caller's (a guardian's) choices.
#[derive(Debug, Clone, InputObject)]
pub struct SetNotificationPreferencesInput {
    /// The channels chosen; `null`: every channel they can be reached by.
    pub channels: Option<Vec<NotificationChannel>>,
    /// The notices they do not want.
    #[graphql(default)]
    pub muted: Vec<NoticeKind>,
    /// The language of their messages.
    #[graphql(default_with = "MessageLanguage::Fr")]
    pub language: MessageLanguage,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// Whether families are told of each mark.
#[derive(Debug, Clone, InputObject)]
pub struct SetMarkNotificationsInput {
    pub enabled: bool,
    #[graphql(flatten)]
    pub options: CommandOptions,
}

/// The dead letter to send again.
#[derive(Debug, Clone, InputObject)]
pub struct RetryNotificationInput {
    /// The delivery's id (`NotificationDelivery.id`).
    pub id: String,
}

payload!(
    RecordGuardianContactPayload,
    "How the guardian is now reached.",
    preferences: NotificationPreferences
);
payload!(
    SetNotificationPreferencesPayload,
    "The guardian's preferences as they now stand.",
    preferences: NotificationPreferences
);
payload!(
    SetMarkNotificationsPayload,
    "Whether families are now told of each mark.",
    enabled: bool
);

/// `Debug` for the payloads above (`payload!` derives none; this module is public).
macro_rules! debug_payload {
    ($($name:ident: $field:ident),* $(,)?) => {$(
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("result", &self.result)
                    .field(stringify!($field), &self.$field)
                    .finish()
            }
        }
    )*};
}
debug_payload!(
    RecordGuardianContactPayload: preferences,
    SetNotificationPreferencesPayload: preferences,
    SetMarkNotificationsPayload: enabled,
);

/// The dead letter put back in the queue.
#[derive(Debug, Clone, SimpleObject)]
pub struct RetryNotificationPayload {
    /// The delivery, pending again.
    pub delivery: Option<NotificationDelivery>,
}

#[Object]
impl NotificationMutation {
    /// Records a guardian's e-mail address and mobile number (a missing one is removed):
    /// the guardian themselves, or the secretariat, the CPE or the head. They are the
    /// guardian's personal data, erased with them.
    async fn record_guardian_contact(
        &self,
        ctx: &Context<'_>,
        input: RecordGuardianContactInput,
    ) -> GqlResult<RecordGuardianContactPayload> {
        let c = Command::sent(ctx, input.options).await?;
        let guardian = input.guardian;
        may_reach(&c.actor, &guardian)?;
        is_guardian(&c, &guardian).await?;
        let command = ContactCommand::RecordContact {
            guardian: guardian.clone(),
            email: input.email,
            mobile: input.mobile,
            by: c.actor.person.clone(),
        };
        let result = c
            .run(
                "record_guardian_contact",
                &c.school.contacts,
                &guardian,
                command,
                None,
            )
            .await?;
        let preferences = Some(reach_of(&c.reader.fresh(), guardian).await?);
        Ok(RecordGuardianContactPayload {
            result,
            preferences,
        })
    }

    /// A guardian's choice of channels (`null`: every channel they can be reached by),
    /// of notices they do not want, and of language. Only the guardian chooses; the
    /// right to be told at all is the student's record's.
    async fn set_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: SetNotificationPreferencesInput,
    ) -> GqlResult<SetNotificationPreferencesPayload> {
        let c = Command::sent(ctx, input.options).await?;
        if c.actor.children.is_empty() {
            return Err(ApiError::forbidden(Text::new(
                "seul le responsable légal choisit ses préférences",
                "preferences are a guardian's own choice",
            ))
            .into());
        }
        let guardian = c.actor.person.clone();
        let command = ContactCommand::SetPreferences {
            guardian: guardian.clone(),
            channels: input
                .channels
                .map(|c| c.into_iter().map(Channel::from).collect::<BTreeSet<_>>()),
            muted: input.muted.into_iter().map(Notice::from).collect(),
            language: match input.language {
                MessageLanguage::Fr => Language::Fr,
                MessageLanguage::En => Language::En,
            },
            by: guardian.clone(),
        };
        let result = c
            .run(
                "set_notification_preferences",
                &c.school.contacts,
                &guardian,
                command,
                None,
            )
            .await?;
        let preferences = Some(reach_of(&c.reader.fresh(), guardian).await?);
        Ok(SetNotificationPreferencesPayload {
            result,
            preferences,
        })
    }

    /// Whether the guardians told of absences are also told of each mark as it is
    /// entered (off until turned on): the head's choice for the establishment.
    async fn set_mark_notifications(
        &self,
        ctx: &Context<'_>,
        input: SetMarkNotificationsInput,
    ) -> GqlResult<SetMarkNotificationsPayload> {
        let c = Command::sent(ctx, input.options).await?;
        c.actor.may_administer("telling families of marks")?;
        let stream = c.school.establishment_id();
        let command = EstablishmentCommand::SetMarkNotifications {
            enabled: input.enabled,
        };
        let result = c
            .run(
                "set_mark_notifications",
                &c.school.establishment,
                &stream,
                command,
                None,
            )
            .await?;
        // The establishment's read model is written in the command's transaction.
        let enabled = Some(c.reader.fresh().establishment().await?.notify_marks);
        Ok(SetMarkNotificationsPayload { result, enabled })
    }

    /// Sends a dead letter again, due now, its attempts counted afresh (after the
    /// address was corrected, the receiver repaired). Vie scolaire or the head.
    async fn retry_notification(
        &self,
        ctx: &Context<'_>,
        input: RetryNotificationInput,
    ) -> GqlResult<RetryNotificationPayload> {
        let (reader, actor) = crate::schema::caller(ctx, None).await?;
        actor.may_write()?;
        may_follow(&actor)?;
        let id = input.id;
        if outbox::retry(&reader.pool, reader.tenant.as_str(), &id)
            .await
            .map_err(ApiError::from)?
        {
            let delivery = delivery(&reader, &id)
                .await?
                .map(NotificationDelivery::from);
            return Ok(RetryNotificationPayload { delivery });
        }
        Err(ApiError::not_found(Text::new(
            format!("aucune notification en échec `{id}` dans cet établissement"),
            format!("no dead letter `{id}` in this establishment"),
        ))
        .into())
    }
}

/// One delivery of the establishment, by its id.
async fn delivery(reader: &Reader, id: &str) -> ApiResult<Option<Delivery>> {
    const COLUMNS: &str = "tenant_id, id, position, notice, channel, guardian, student, \
         details, status, attempts, next_at, lease_until, last_error, created_at, sent_at";
    let tenant = reader.tenant.as_str();
    let found = match &reader.pool {
        carnet_store::Pool::Postgres(p) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM notification_deliveries WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(p)
            .await
        }
        carnet_store::Pool::Sqlite(p) => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM notification_deliveries WHERE tenant_id = ? AND id = ?"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(p)
            .await
        }
    };
    found.map_err(|e| ApiError::internal(&e))
}

/// Refuses a guardian the establishment does not know.
async fn is_guardian(c: &Command<'_>, guardian: &str) -> ApiResult<()> {
    let children = carnet_projections::enrolment::guardian_children(
        &c.reader.pool,
        &c.reader.tenant,
        guardian,
    )
    .await?;
    if children.children.is_empty() {
        return Err(ApiError::validation(
            "guardian",
            Text::new(
                format!("`{guardian}` n'est responsable légal d'aucun élève de l'établissement"),
                format!("`{guardian}` is the guardian of no student here"),
            ),
        ));
    }
    Ok(())
}
