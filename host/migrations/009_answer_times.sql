-- When the partner accepted the application (its submit recorded): poll timing
-- learns each company's answer times, submit -> answer, from it and
-- last_poll_at. NULL until submitted, and for rows submitted before this column.
ALTER TABLE company_quotes ADD COLUMN submitted_at timestamptz;
