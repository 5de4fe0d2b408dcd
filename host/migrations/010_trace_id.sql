-- The W3C trace id each quote request works under (from the browser through
-- core-app, on every log line, event and partner call about it). NULL for
-- requests created before this column.
ALTER TABLE quote_requests ADD COLUMN trace_id text;
