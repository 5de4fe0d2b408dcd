-- The operators' routing switch per plugin, shared by every aggregator instance.
CREATE TABLE plugin_switches (
  plugin_id  text PRIMARY KEY,
  enabled    boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL
);
