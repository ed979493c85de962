-- Signed medical records, their addenda and their attachments never change: the database itself
-- refuses it, so no code path (a bug, a script, a cascade) can bypass the rule.
-- SQLSTATE OB409 is ours: the error handler answers it as 409 with the message as the code.
CREATE OR REPLACE FUNCTION medical_records_refuse_signed_change() RETURNS trigger AS $$
BEGIN
  IF OLD.status = 'signed' THEN
    RAISE EXCEPTION 'record_signed' USING ERRCODE = 'OB409', DETAIL = 'signed medical records are immutable';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER medical_records_immutable
  BEFORE UPDATE OR DELETE ON medical_records
  FOR EACH ROW EXECUTE FUNCTION medical_records_refuse_signed_change();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION medical_record_attachments_refuse_signed_change() RETURNS trigger AS $$
DECLARE
  parent_status medical_record_status;
BEGIN
  SELECT status INTO parent_status FROM medical_records
    WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.record_id ELSE OLD.record_id END;
  IF parent_status = 'signed' THEN
    RAISE EXCEPTION 'record_signed' USING ERRCODE = 'OB409', DETAIL = 'attachments of signed medical records are immutable';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER medical_record_attachments_immutable
  BEFORE INSERT OR UPDATE OR DELETE ON medical_record_attachments
  FOR EACH ROW EXECUTE FUNCTION medical_record_attachments_refuse_signed_change();
--> statement-breakpoint
-- The audit log is append-only. This also refuses the ON DELETE CASCADE from clinics: a clinic
-- with history cannot be hard-deleted (its records must be kept for 20 years anyway).
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_append_only' USING ERRCODE = 'OB409', DETAIL = 'audit rows are append-only';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only_rows
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_append_only_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
