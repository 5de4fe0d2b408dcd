-- pgbench: the rows one POST /osago/requests writes (1 request, 8 companies,
-- 8 outbox events), in one statement and so one transaction: the ceiling the
-- service is compared with.
\set n random(1, 1000000000)
WITH r AS (
  INSERT INTO quote_requests (id, user_id, correlation_id, idempotency_key, input, input_hash, deadline_at, last_seq)
  VALUES (gen_random_uuid(), 'pgbench', 'c' || :n || '-' || random(), 'k' || :n || '-' || random(),
          '{"v":1,"vehicle":{"vin":"XTA21099043765439"}}', 'h', now() + interval '60 seconds', 8)
  RETURNING id),
c AS (
  INSERT INTO company_quotes (request_id, company_id, company_name, position, status, deadline_at)
  SELECT r.id, 'company-' || g, 'Company ' || g, g, 'IN_PROGRESS', now() + interval '60 seconds'
  FROM r, generate_series(1, 8) g)
INSERT INTO outbox_events (event_id, request_id, seq, payload)
SELECT gen_random_uuid(), r.id, g, '{"v":1,"status":"IN_PROGRESS"}' FROM r, generate_series(1, 8) g;
