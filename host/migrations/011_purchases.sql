-- Buying an offer (docs/api.md, "Purchases"): at most one purchase per
-- (request, company), worked on like the company's quote: claimed under a
-- lease, called through the company's plugin (issue, then issue_poll), with a
-- deadline of its own, and every change of state committed with its
-- quote.purchase-status event in the request's outbox sequence.
CREATE TABLE purchases (
  request_id        uuid NOT NULL REFERENCES quote_requests (id) ON DELETE CASCADE,
  company_id        text NOT NULL,
  id                uuid NOT NULL UNIQUE,
  idempotency_key   text NOT NULL,
  buyer             jsonb NOT NULL,
  status            text NOT NULL CHECK (status IN ('CREATED', 'PENDING', 'PAYMENT', 'PAID', 'ISSUED', 'DECLINED', 'FAILED')),
  external_id       text,
  payment           jsonb,   -- {"url", "draftUrl"?, "expiresAt"} once the partner offers its payment page
  policy            jsonb,   -- {"number", "url"?} once issued
  error             jsonb,   -- {"code", "message", "reason"?} when DECLINED or FAILED
  attempts          int NOT NULL DEFAULT 0,
  next_poll_at      timestamptz NOT NULL DEFAULT now(),
  last_poll_at      timestamptz,
  deadline_at       timestamptz NOT NULL,
  lease_owner       text,
  lease_until       timestamptz,
  last_owner        text,
  worker_crashes    int NOT NULL DEFAULT 0,
  unrecorded_claims int NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, company_id),
  FOREIGN KEY (request_id, company_id) REFERENCES company_quotes (request_id, company_id) ON DELETE CASCADE
);
CREATE INDEX purchases_due ON purchases (next_poll_at) WHERE status IN ('CREATED', 'PENDING', 'PAYMENT', 'PAID');
-- One policy per request: while one purchase is live or issued, no other
-- company's offer of the same request can be bought (a declined or failed
-- one leaves the way open to the next offer).
CREATE UNIQUE INDEX purchases_one_per_request ON purchases (request_id) WHERE status NOT IN ('DECLINED', 'FAILED');
-- Newer requests of the same user supersede older offers for the same vehicle.
CREATE INDEX quote_requests_by_user ON quote_requests (user_id, created_at);
