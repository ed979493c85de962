CREATE TABLE "medical_record_chain_heads" (
	"clinic_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"length" integer NOT NULL,
	"head_record_id" uuid NOT NULL,
	"head_mac" text NOT NULL,
	"mac" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "medical_record_chain_heads_contact_id_length_pk" PRIMARY KEY("contact_id","length")
);
--> statement-breakpoint
ALTER TABLE "anamnesis_responses" ADD COLUMN "resume_secret_hash" text;--> statement-breakpoint
ALTER TABLE "medical_record_chain_heads" ADD CONSTRAINT "medical_record_chain_heads_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_record_chain_heads" ADD CONSTRAINT "medical_record_chain_heads_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_clinic_id_unique" UNIQUE("clinic_id","id");--> statement-breakpoint
ALTER TABLE "medical_records" ADD CONSTRAINT "medical_records_appointment_fk" FOREIGN KEY ("clinic_id","appointment_id") REFERENCES "public"."appointments"("clinic_id","id") ON DELETE no action ON UPDATE no action;