-- The notifications to send to guardians (absences, alerts, decisions on justifications,
-- marks where the establishment tells families of them):
-- one row per guardian and channel, written by the `notifications` projection in the
-- transaction that moves its checkpoint over the event that calls for it, then sent by
-- the notifier (`carnet notify`, or `carnet serve --notify-config`), at least once.
--
-- `id` is derived from the establishment, the event's position, the guardian and the
-- channel: the same notice is the same row whoever writes it again (a rebuild of the
-- projection), and the receiver drops duplicates by it. No personal data here: the
-- addresses and names are read, sealed, from the read model when the message is made,
-- so erasing a guardian also stops what was not yet sent to them. Times are
-- microseconds since the epoch, as the log's.
CREATE TABLE notification_deliveries (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    position    BIGINT NOT NULL,
    notice      TEXT NOT NULL CHECK (notice IN ('absence', 'alert', 'justification', 'mark')),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'ent')),
    guardian    TEXT NOT NULL,
    student     TEXT NOT NULL,
    details     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'dead', 'dropped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT,
    PRIMARY KEY (tenant_id, id)
);
-- What the notifier claims: pending rows whose time has come, oldest first.
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at)
    WHERE status = 'pending';
-- What staff look at: an establishment's undelivered notifications.
CREATE INDEX notification_deliveries_by_status
    ON notification_deliveries (tenant_id, status, created_at);
