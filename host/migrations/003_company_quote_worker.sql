-- Which instance last worked on a (request, company): for operators, and for
-- tests that check several instances share the work.
ALTER TABLE company_quotes ADD COLUMN last_owner text;
