-- The chain heads are append-only. ENABLE ALWAYS makes the trigger fire even for a session with
-- session_replication_role = replica (the usual way to slip past triggers); only DDL (ALTER TABLE
-- ... DISABLE TRIGGER, DROP) gets around it, and that is a change a DBA has to make on purpose.
CREATE OR REPLACE FUNCTION medical_record_chain_heads_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'chain_head_append_only' USING ERRCODE = 'OB409', DETAIL = 'medical record chain heads are append-only';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER medical_record_chain_heads_append_only_rows
  BEFORE UPDATE OR DELETE ON medical_record_chain_heads
  FOR EACH ROW EXECUTE FUNCTION medical_record_chain_heads_append_only();
--> statement-breakpoint
CREATE TRIGGER medical_record_chain_heads_append_only_truncate
  BEFORE TRUNCATE ON medical_record_chain_heads
  FOR EACH STATEMENT EXECUTE FUNCTION medical_record_chain_heads_append_only();
--> statement-breakpoint
ALTER TABLE medical_record_chain_heads ENABLE ALWAYS TRIGGER medical_record_chain_heads_append_only_rows;
--> statement-breakpoint
ALTER TABLE medical_record_chain_heads ENABLE ALWAYS TRIGGER medical_record_chain_heads_append_only_truncate;
