-- No double booking, enforced by the database: two active (not cancelled, not no-show), not
-- overbooked appointments of one professional in one clinic cannot overlap. A racing insert or
-- update fails with exclusion_violation (23P01), which the API answers as 409 appointment_conflict.
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_no_overlap" EXCLUDE USING gist (
  "clinic_id" WITH =,
  "professional_id" WITH =,
  tstzrange("starts_at", "ends_at", '[)') WITH &&
) WHERE ("status" NOT IN ('cancelled', 'no_show') AND NOT "overbooked");
--> statement-breakpoint
-- Rows written before the search column existed get it filled once (the app maintains it after).
UPDATE "contacts" SET "search_text" = lower(unaccent(concat_ws(' ', "name", "email", regexp_replace(coalesce("phone", ''), '\D', '', 'g'), "cpf")))
WHERE "search_text" = '';
