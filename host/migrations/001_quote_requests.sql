-- Quote requests, one row per (request, company), and the transactional outbox.
CREATE TABLE quote_requests (
  id             uuid PRIMARY KEY,
  user_id        text NOT NULL,
  correlation_id text NOT NULL,
  input          jsonb NOT NULL,
  input_hash     text NOT NULL,
  status         text NOT NULL DEFAULT 'IN_PROGRESS' CHECK (status IN ('IN_PROGRESS', 'COMPLETED')),
  last_seq       bigint NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  deadline_at    timestamptz NOT NULL,
  finished_at    timestamptz,
  UNIQUE (user_id, correlation_id)
);

CREATE TABLE company_quotes (
  request_id    uuid NOT NULL REFERENCES quote_requests (id) ON DELETE CASCADE,
  company_id    text NOT NULL,
  company_name  text NOT NULL,
  position      int NOT NULL,
  status        text NOT NULL CHECK (status IN ('CREATED', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'TIMEOUT')),
  external_id   text,
  attempts      int NOT NULL DEFAULT 0,
  next_poll_at  timestamptz NOT NULL DEFAULT now(),
  last_poll_at  timestamptz,
  deadline_at   timestamptz NOT NULL,
  lease_owner   text,
  lease_until   timestamptz,
  offer         jsonb,
  error         jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, company_id)
);
CREATE INDEX company_quotes_due ON company_quotes (next_poll_at) WHERE status IN ('CREATED', 'IN_PROGRESS');

CREATE TABLE outbox_events (
  id           bigserial PRIMARY KEY,
  event_id     uuid NOT NULL UNIQUE,
  request_id   uuid NOT NULL,
  seq          bigint NOT NULL,
  payload      jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  UNIQUE (request_id, seq)
);
CREATE INDEX outbox_events_unpublished ON outbox_events (id) WHERE published_at IS NULL;
