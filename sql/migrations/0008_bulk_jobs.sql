-- 0008: bulk operator actions.
-- Why: an operator acts on every saga a filter matches (`sagactl bulk cancel --status
-- running --workflow W`), thousands at a time. The job is a row: its filter, who asked
-- and why, and its progress (the last saga taken, kept in the filter as `after`, and the
-- counts), written in the transaction of each page's actions. A sagad that restarts goes
-- on from the last committed page, so no saga is acted on twice and none is missed.
CREATE TABLE saga_bulk_jobs (
    id           uuid        PRIMARY KEY,
    action       text        NOT NULL,
    filter       jsonb       NOT NULL,
    reason       text        NOT NULL,
    requested_by text        NOT NULL,
    rate         integer     NOT NULL CHECK (rate > 0),
    matched      bigint      NOT NULL,
    done         bigint      NOT NULL,
    refused      bigint      NOT NULL,
    -- 1 running, 2 finished
    state_code   smallint    NOT NULL CHECK (state_code IN (1, 2)),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX saga_bulk_jobs_created ON saga_bulk_jobs (created_at DESC, id DESC);
