-- 0002: sagaflow_expect_rows(got, want, what).
-- Why: the store sends a batch's writes and its COMMIT in one round trip (libpq pipeline
-- mode), so a write that must change an exact number of rows (a saga's optimistic version
-- check, an outbox row that must still be there) has to fail inside the database, before
-- COMMIT runs, instead of being checked by the client afterwards. SQLSTATE 40001 is what
-- the store reports as a concurrent change (kAborted); the engine retries the batch.

CREATE FUNCTION sagaflow_expect_rows(got bigint, want bigint, what text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF got <> want THEN
        RAISE EXCEPTION '% changed concurrently (% of % rows written)', what, got, want
            USING ERRCODE = '40001';
    END IF;
    RETURN got;
END
$$;
