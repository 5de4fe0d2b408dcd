-- What the retention sweep looks for: finished requests by age, and events
-- already on Kafka by age.
CREATE INDEX quote_requests_finished ON quote_requests (finished_at) WHERE status = 'COMPLETED';
CREATE INDEX outbox_events_published ON outbox_events (published_at) WHERE published_at IS NOT NULL;
