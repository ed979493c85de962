DROP INDEX "messages_text_trgm_idx";--> statement-breakpoint
DROP INDEX "conversations_inbox_idx";--> statement-breakpoint
DROP INDEX "conversations_inbox_status_idx";--> statement-breakpoint
DROP INDEX "conversations_inbox_assignee_idx";--> statement-breakpoint
ALTER TABLE "conversations" ADD COLUMN "activity_at" timestamp with time zone GENERATED ALWAYS AS (coalesce(last_message_at, created_at)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "edited_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "conversations_inbox_idx" ON "conversations" USING btree ("clinic_id","activity_at","id");--> statement-breakpoint
CREATE INDEX "conversations_inbox_status_idx" ON "conversations" USING btree ("clinic_id","status","activity_at","id");--> statement-breakpoint
CREATE INDEX "conversations_inbox_assignee_idx" ON "conversations" USING btree ("clinic_id","assignee_id","activity_at","id");