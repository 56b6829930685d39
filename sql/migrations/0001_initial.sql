-- 0001: the first schema.
-- Why: sagas, their outbox, step attempts and history, written together in one
-- transaction per state change (DESIGN §4). Every table is keyed by saga id first so
-- it can be sharded on that column later (DESIGN §6). Timestamps are timestamptz so
-- operators can read them in psql.

CREATE TABLE sagas (
    id               uuid        PRIMARY KEY,
    workflow         text        NOT NULL,
    workflow_version integer     NOT NULL,
    -- Our stable lifecycle code (1 running, 2 compensating, 3 completed,
    -- 4 compensated, 5 failed), never Boost.MSM's table-order index.
    state_code       smallint    NOT NULL CHECK (state_code BETWEEN 1 AND 5),
    step_position    integer     NOT NULL,
    awaiting_msg_id  uuid,
    input            jsonb       NOT NULL,
    context          jsonb       NOT NULL,
    business_key     text,
    failure_reason   text        NOT NULL DEFAULT '',
    trace_id         text        NOT NULL,
    version          bigint      NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- Starting twice with one key gives one saga.
CREATE UNIQUE INDEX sagas_business_key ON sagas (workflow, business_key)
    WHERE business_key IS NOT NULL;
CREATE INDEX sagas_created ON sagas (created_at DESC, id);
CREATE INDEX sagas_state ON sagas (state_code, created_at DESC);

-- Commands to workers. A row stays pending (state 1) until its outcome is applied
-- (state 2); recovery resends every pending row with the same msg id.
CREATE TABLE saga_outbox (
    saga_id    uuid        NOT NULL,
    msg_id     uuid        NOT NULL,
    step_index integer     NOT NULL,
    phase      smallint    NOT NULL CHECK (phase IN (1, 2)),
    action     text        NOT NULL,
    queue      text        NOT NULL,
    attempt    integer     NOT NULL,
    not_before timestamptz NOT NULL,
    state      smallint    NOT NULL CHECK (state IN (1, 2)),
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (saga_id, msg_id)
);
CREATE UNIQUE INDEX saga_outbox_msg ON saga_outbox (msg_id);
CREATE INDEX saga_outbox_pending ON saga_outbox (not_before) WHERE state = 1;

CREATE TABLE saga_step_attempts (
    saga_id     uuid        NOT NULL,
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    step_index  integer     NOT NULL,
    phase       smallint    NOT NULL CHECK (phase IN (1, 2)),
    msg_id      uuid        NOT NULL,
    attempt     integer     NOT NULL,
    outcome     text        NOT NULL,
    detail      text        NOT NULL,
    finished_at timestamptz NOT NULL,
    PRIMARY KEY (saga_id, seq)
);

-- Append-only trace of every hop of a saga.
CREATE TABLE saga_history (
    saga_id    uuid        NOT NULL,
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL,
    kind       text        NOT NULL,
    step_index integer     NOT NULL,
    phase      smallint,
    attempt    integer     NOT NULL,
    msg_id     uuid,
    detail     jsonb       NOT NULL,
    PRIMARY KEY (saga_id, seq)
);
