-- 0005: waits (timers, signal waits, deadlines).
-- Why: a saga now waits for more than a command's outcome: a timer node's due time, a
-- signal from outside, a node's deadline (DESIGN §2, "pending item"). Each is a pending
-- item like a command's, inserted when armed and deleted when resolved, so a timer that
-- came due while sagad was down is found at recovery like any pending command. Its kind
-- says which; `not_before` is a timer's or a deadline's due time, `action` a signal's name.
--
-- Signals are kept in a table of their own, keyed by saga id first: the sender's signal id
-- makes a resend apply once, and a signal that arrives before its wait is kept there,
-- untaken, until the saga reaches the wait.

ALTER TABLE saga_pending DROP CONSTRAINT saga_pending_kind_check;
ALTER TABLE saga_pending ADD CONSTRAINT saga_pending_kind_check CHECK (kind IN (1, 2, 3, 4));

CREATE TABLE saga_signals (
    saga_id     uuid        NOT NULL,
    signal_id   text        NOT NULL,
    name        text        NOT NULL,
    payload     jsonb       NOT NULL,
    -- the node that took it; NULL while it waits for the saga to reach a wait
    consumed_by text,
    received_at timestamptz NOT NULL,
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (saga_id, signal_id)
);
CREATE INDEX saga_signals_waiting ON saga_signals (saga_id, name, seq) WHERE consumed_by IS NULL;
