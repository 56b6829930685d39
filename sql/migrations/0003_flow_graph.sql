-- 0003: the flow is a graph.
-- Why: a saga is no longer one cursor (step_position plus awaiting_msg_id) but a state per
-- node of its workflow graph (DESIGN §5), and it may wait for several things at once
-- (parallel branches). So: per-node states on the saga row; one row per pending item,
-- inserted when armed and deleted when resolved, so no table is updated in place per step;
-- a command's payload is the saga's input and context, read from the saga row instead of
-- copied into every command; history as one row per saga transaction (DESIGN §6). The
-- rows a step writes drop from about eight to four.
--
-- Sagas written by the previous release, running ones included, are converted here. Their
-- workflows were straight lines, so step i is the node its commands named (payload 'step'),
-- node states follow from the cursor and the attempts, and pending commands become
-- pending items with the same msg ids (workers' inboxes still recognise them).

ALTER TABLE sagas ADD COLUMN nodes jsonb;

CREATE TABLE saga_pending (
    saga_id    uuid        NOT NULL,
    msg_id     uuid        NOT NULL,
    -- 1: a command's outcome. Timers, signals and child sagas come later.
    kind       smallint    NOT NULL DEFAULT 1 CHECK (kind = 1),
    node       text        NOT NULL,
    phase      smallint    NOT NULL CHECK (phase IN (1, 2)),
    action     text        NOT NULL,
    queue      text        NOT NULL,
    attempt    integer     NOT NULL,
    not_before timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (saga_id, msg_id)
);
CREATE UNIQUE INDEX saga_pending_msg ON saga_pending (msg_id);
CREATE INDEX saga_pending_due ON saga_pending (not_before);

-- One row per saga transaction: its events, in order (the codec is HistoryEvent's JSON).
CREATE TABLE saga_events (
    saga_id uuid        NOT NULL,
    seq     bigint      GENERATED ALWAYS AS IDENTITY,
    at      timestamptz NOT NULL,
    events  jsonb       NOT NULL,
    PRIMARY KEY (saga_id, seq)
);

-- The node id of each step index of each legacy saga, from the commands it was sent.
CREATE TEMP TABLE legacy_steps ON COMMIT DROP AS
    SELECT DISTINCT ON (saga_id, step_index) saga_id, step_index, payload->>'step' AS node
    FROM saga_outbox ORDER BY saga_id, step_index, created_at;

CREATE TEMP TABLE legacy_nodes ON COMMIT DROP AS
    SELECT l.saga_id, l.node, l.step_index,
           CASE
               WHEN l.step_index = s.step_position AND a.phase = 1 THEN 2   -- running
               WHEN l.step_index = s.step_position AND a.phase = 2 THEN 5   -- compensating
               WHEN l.step_index = s.step_position AND s.state_code = 5 THEN 5  -- its undo failed
               WHEN EXISTS (SELECT 1 FROM saga_step_attempts t WHERE t.saga_id = l.saga_id
                            AND t.step_index = l.step_index AND t.phase = 2 AND t.outcome = 'ok') THEN 6
               WHEN EXISTS (SELECT 1 FROM saga_step_attempts t WHERE t.saga_id = l.saga_id
                            AND t.step_index = l.step_index AND t.phase = 1 AND t.outcome = 'ok') THEN 3
               WHEN EXISTS (SELECT 1 FROM saga_step_attempts t WHERE t.saga_id = l.saga_id
                            AND t.step_index = l.step_index AND t.phase = 1) THEN 4
               ELSE 1
           END AS state,
           s.state_code = 5 AND l.step_index = s.step_position AND a.msg_id IS NULL AS stuck,
           NOT EXISTS (SELECT 1 FROM saga_step_attempts t WHERE t.saga_id = l.saga_id
                       AND t.step_index = l.step_index AND t.phase = 1 AND t.outcome IN ('ok', 'fail')) AS uncertain
    FROM legacy_steps l
    JOIN sagas s ON s.id = l.saga_id
    LEFT JOIN saga_outbox a ON a.msg_id = s.awaiting_msg_id AND a.state = 1;

UPDATE sagas s SET nodes = jsonb_build_object(
    'completions', coalesce((SELECT max(n.step_index) + 1 FROM legacy_nodes n
                             WHERE n.saga_id = s.id AND n.state NOT IN (1, 2)), 0),
    'nodes', coalesce((SELECT jsonb_object_agg(n.node, jsonb_strip_nulls(jsonb_build_object(
                                  's', n.state,
                                  -- completed forward (or may have): its rank, for the reverse order of undo
                                  'o', CASE WHEN n.state IN (3, 5, 6) OR (n.state = 4 AND n.uncertain)
                                            THEN n.step_index + 1 END,
                                  'u', CASE WHEN n.state = 4 AND n.uncertain THEN true END,
                                  'x', CASE WHEN n.stuck THEN true END)))
                       FROM legacy_nodes n WHERE n.saga_id = s.id AND n.state <> 1), '{}'::jsonb));

INSERT INTO saga_pending (saga_id, msg_id, node, phase, action, queue, attempt, not_before, created_at)
    SELECT saga_id, msg_id, payload->>'step', phase, action, queue, attempt, not_before, created_at
    FROM saga_outbox WHERE state = 1;

INSERT INTO saga_events (saga_id, at, events)
    SELECT h.saga_id, h.at, jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
               'at_us', (extract(epoch FROM h.at) * 1000000)::bigint,
               'kind', h.kind,
               'node', l.node,
               'phase', h.phase,
               'attempt', h.attempt,
               'msg_id', h.msg_id,
               'detail', h.detail)))
    FROM saga_history h
    LEFT JOIN legacy_steps l ON l.saga_id = h.saga_id AND l.step_index = h.step_index
    ORDER BY h.saga_id, h.seq;

ALTER TABLE sagas ALTER COLUMN nodes SET NOT NULL;
ALTER TABLE sagas DROP COLUMN step_position, DROP COLUMN awaiting_msg_id;
DROP TABLE saga_outbox, saga_step_attempts, saga_history;
