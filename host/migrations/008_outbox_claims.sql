-- The outbox relay claims events under a lease and commits the claim before it
-- talks to Kafka (claim, commit, publish, then mark): no outbox row stays
-- locked and no connection stays idle in a transaction while the broker is
-- slow or away. A claim whose instance died lapses at claimed_until and the
-- events are claimed again. The index serves the rule that an event is not
-- claimed while an earlier event of its request is still unpublished
-- elsewhere (a request's events reach the topic in order).
ALTER TABLE outbox_events ADD COLUMN claimed_by text;
ALTER TABLE outbox_events ADD COLUMN claimed_until timestamptz;
CREATE INDEX outbox_events_unpublished_by_request ON outbox_events (request_id, id) WHERE published_at IS NULL;
