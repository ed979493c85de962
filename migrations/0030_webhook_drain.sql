ALTER TABLE "integration_webhook_events" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "integration_webhook_events" ADD COLUMN "last_error" text;--> statement-breakpoint
CREATE INDEX "integration_webhook_events_pending_idx" ON "integration_webhook_events" USING btree ("clinic_id","received_at") WHERE processed_at is null;