-- A create is deduplicated by (user, idempotency key): the Idempotency-Key
-- header when the client sends one, else the correlationId.
ALTER TABLE quote_requests ADD COLUMN idempotency_key text;
UPDATE quote_requests SET idempotency_key = correlation_id;
ALTER TABLE quote_requests ALTER COLUMN idempotency_key SET NOT NULL;
ALTER TABLE quote_requests DROP CONSTRAINT quote_requests_user_id_correlation_id_key;
ALTER TABLE quote_requests ADD CONSTRAINT quote_requests_user_idempotency_key UNIQUE (user_id, idempotency_key);
