-- Poison quarantine (docs/architecture.md, "Plugin workers"): how often a
-- (request, company)'s calls killed its plugin's worker, on any instance, and
-- how often it was claimed without an outcome being recorded (the instance
-- died while working on it). Past the limits it ends FAILED/PLUGIN_CRASHED
-- instead of being tried again, so one poisonous input cannot take down
-- worker after worker or instance after instance.
ALTER TABLE company_quotes ADD COLUMN worker_crashes int NOT NULL DEFAULT 0;
ALTER TABLE company_quotes ADD COLUMN unrecorded_claims int NOT NULL DEFAULT 0;
