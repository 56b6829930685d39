-- 0004: alerts for the operator's webhook.
-- Why: when a saga stops in `failed` (its compensation could not finish), sagad POSTs an
-- event to the webhook an operator configured (--alert-webhook). The alert is written in
-- the transaction that moved the saga to failed and deleted once the webhook took it, so a
-- crash between the two still sends it after the restart: an outbox of its own, keyed by
-- saga id first like every saga table.
CREATE TABLE saga_alerts (
    saga_id    uuid        NOT NULL,
    id         bigserial   NOT NULL,
    event      jsonb       NOT NULL,
    attempts   int         NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (saga_id, id)
);
CREATE INDEX saga_alerts_due ON saga_alerts (next_at);
