DROP INDEX "messages_conversation_sent_idx";--> statement-breakpoint
DROP INDEX "messages_clinic_idx";--> statement-breakpoint
CREATE INDEX "messages_clinic_conversation_sent_idx" ON "messages" USING btree ("clinic_id","conversation_id","sent_at","id");--> statement-breakpoint
CREATE INDEX "messages_clinic_sent_idx" ON "messages" USING btree ("clinic_id","sent_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_created_idx" ON "webhook_deliveries" USING btree ("created_at");