-- 0001 (worker): the inbox.
-- Why: a step handler is idempotent because the SDK inserts the command's msg id here in
-- the handler's own transaction and stores the reply with it (DESIGN §4, T2). The
-- (saga_id, step_index, phase) index serves the guards: a compensation whose forward
-- action never ran here, and a forward action arriving after its compensation.
CREATE TABLE sagaflow_inbox (
    msg_id     uuid        PRIMARY KEY,
    saga_id    uuid        NOT NULL,
    step_index integer     NOT NULL,
    phase      smallint    NOT NULL CHECK (phase IN (1, 2)),
    action     text        NOT NULL,
    outcome    text        NOT NULL,
    reply      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sagaflow_inbox_step ON sagaflow_inbox (saga_id, step_index, phase);
