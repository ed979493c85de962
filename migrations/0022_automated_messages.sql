ALTER TYPE "public"."message_sender" ADD VALUE 'system';--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "automation_key" text;--> statement-breakpoint
CREATE UNIQUE INDEX "messages_clinic_automation_key_unique" ON "messages" USING btree ("clinic_id","automation_key") WHERE "messages"."automation_key" is not null;