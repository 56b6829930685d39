-- 0002 (worker): inbox retention.
-- Why: the inbox gained a row per command forever. The SDK now deletes rows older than
-- WorkerOptions::inbox_retention (default 7 days) in small batches, oldest first; this
-- index finds them without scanning the table.
CREATE INDEX sagaflow_inbox_created ON sagaflow_inbox (created_at);
