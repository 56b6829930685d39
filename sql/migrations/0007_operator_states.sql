-- 0007: operator-owned states.
-- Why: a saga can now stop in `parked` (6: a forward node spent its attempts under a
-- `park` policy, or failed past its pivot, and waits for an operator) or end in
-- `cancelled` (7: an operator stopped it without compensating). Both are lifecycle codes
-- of our own (DESIGN §5), so the column's check grows to take them.
ALTER TABLE sagas DROP CONSTRAINT sagas_state_code_check;
ALTER TABLE sagas ADD CONSTRAINT sagas_state_code_check CHECK (state_code BETWEEN 1 AND 7);
