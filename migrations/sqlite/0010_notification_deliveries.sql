-- Notifications to send to guardians: see the Postgres migration of the same number.
CREATE TABLE notification_deliveries (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    position    INTEGER NOT NULL,
    notice      TEXT NOT NULL CHECK (notice IN ('absence', 'alert', 'justification', 'mark')),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'ent')),
    guardian    TEXT NOT NULL,
    student     TEXT NOT NULL,
    details     TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'dead', 'dropped')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    lease_until INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_at)
    WHERE status = 'pending';
CREATE INDEX notification_deliveries_by_status
    ON notification_deliveries (tenant_id, status, created_at);
