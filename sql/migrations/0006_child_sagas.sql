-- 0006: child sagas.
-- Why: a node can run a saga of another workflow and wait for it to end (DESIGN §2,
-- "pending item": a child saga). The parent waits on a pending item of kind 5 whose id is
-- the child's id; the child names its parent, so that its end, in the transaction that
-- ends it, moves the parent on, and `show` links both ways.
ALTER TABLE saga_pending DROP CONSTRAINT saga_pending_kind_check;
ALTER TABLE saga_pending ADD CONSTRAINT saga_pending_kind_check CHECK (kind IN (1, 2, 3, 4, 5));
ALTER TABLE sagas ADD COLUMN parent_id uuid, ADD COLUMN parent_node text;
