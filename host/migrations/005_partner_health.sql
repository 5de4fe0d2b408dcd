-- Each instance's view of each partner's health (breaker, bulkhead, latency,
-- counters), reported every few seconds, so operators see the whole fleet in
-- one place. Rows of instances that stopped reporting are ignored, then removed.
CREATE TABLE partner_health (
  instance_id text NOT NULL,
  company_id  text NOT NULL,
  plugin_id   text NOT NULL,
  report      jsonb NOT NULL,
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (instance_id, company_id)
);
