CREATE TABLE "whatsapp_early_statuses" (
	"clinic_id" uuid NOT NULL,
	"number_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"status" "message_status" NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "whatsapp_early_statuses" ADD CONSTRAINT "whatsapp_early_statuses_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "whatsapp_early_statuses" ADD CONSTRAINT "whatsapp_early_statuses_number_id_whatsapp_numbers_id_fk" FOREIGN KEY ("number_id") REFERENCES "public"."whatsapp_numbers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "whatsapp_early_statuses_unique" ON "whatsapp_early_statuses" USING btree ("number_id","external_id");--> statement-breakpoint
CREATE INDEX "whatsapp_early_statuses_received_idx" ON "whatsapp_early_statuses" USING btree ("received_at");