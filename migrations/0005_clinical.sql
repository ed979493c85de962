CREATE TYPE "public"."anamnesis_status" AS ENUM('pending', 'in_progress', 'submitted');--> statement-breakpoint
CREATE TYPE "public"."medical_record_status" AS ENUM('draft', 'signed');--> statement-breakpoint
CREATE TYPE "public"."medical_record_type" AS ENUM('consultation', 'evolution', 'exam', 'prescription', 'note');--> statement-breakpoint
CREATE TABLE "anamnesis_responses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"template_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"status" "anamnesis_status" DEFAULT 'pending' NOT NULL,
	"answers" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"consent_version" text,
	"consent_at" timestamp with time zone,
	"consent_ip" "inet",
	"submitted_at" timestamp with time zone,
	"submitted_ip" "inet",
	"sent_by" uuid,
	"revoked" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "anamnesis_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"family_id" uuid NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"questions" jsonb NOT NULL,
	"default_key" text,
	"archived_at" timestamp with time zone,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "medical_record_attachments" (
	"record_id" uuid NOT NULL,
	"file_id" uuid NOT NULL,
	"clinic_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "medical_record_attachments_record_id_file_id_pk" PRIMARY KEY("record_id","file_id")
);
--> statement-breakpoint
CREATE TABLE "medical_records" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"appointment_id" uuid,
	"addendum_of" uuid,
	"author_id" uuid NOT NULL,
	"type" "medical_record_type" NOT NULL,
	"status" "medical_record_status" DEFAULT 'draft' NOT NULL,
	"content" text DEFAULT '' NOT NULL,
	"chief_complaint" text,
	"history" text,
	"examination" text,
	"diagnosis" text,
	"plan" text,
	"prescriptions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"exam_requests" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"vital_signs" jsonb,
	"signed_at" timestamp with time zone,
	"signed_by" uuid,
	"chain_seq" integer,
	"previous_hash" text,
	"content_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "anamnesis_responses" ADD CONSTRAINT "anamnesis_responses_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anamnesis_responses" ADD CONSTRAINT "anamnesis_responses_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anamnesis_responses" ADD CONSTRAINT "anamnesis_responses_template_id_anamnesis_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."anamnesis_templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anamnesis_responses" ADD CONSTRAINT "anamnesis_responses_sent_by_users_id_fk" FOREIGN KEY ("sent_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anamnesis_templates" ADD CONSTRAINT "anamnesis_templates_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "anamnesis_templates" ADD CONSTRAINT "anamnesis_templates_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_record_attachments" ADD CONSTRAINT "medical_record_attachments_record_id_medical_records_id_fk" FOREIGN KEY ("record_id") REFERENCES "public"."medical_records"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_record_attachments" ADD CONSTRAINT "medical_record_attachments_file_id_files_id_fk" FOREIGN KEY ("file_id") REFERENCES "public"."files"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_record_attachments" ADD CONSTRAINT "medical_record_attachments_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_records" ADD CONSTRAINT "medical_records_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_records" ADD CONSTRAINT "medical_records_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_records" ADD CONSTRAINT "medical_records_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "medical_records" ADD CONSTRAINT "medical_records_signed_by_users_id_fk" FOREIGN KEY ("signed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "anamnesis_responses_token_unique" ON "anamnesis_responses" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "anamnesis_responses_contact_idx" ON "anamnesis_responses" USING btree ("clinic_id","contact_id","created_at");--> statement-breakpoint
CREATE INDEX "anamnesis_templates_clinic_idx" ON "anamnesis_templates" USING btree ("clinic_id","archived_at");--> statement-breakpoint
CREATE UNIQUE INDEX "anamnesis_templates_family_version_unique" ON "anamnesis_templates" USING btree ("family_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "anamnesis_templates_default_unique" ON "anamnesis_templates" USING btree ("clinic_id","default_key") WHERE "anamnesis_templates"."default_key" is not null and "anamnesis_templates"."version" = 1;--> statement-breakpoint
CREATE UNIQUE INDEX "medical_record_attachments_file_unique" ON "medical_record_attachments" USING btree ("file_id");--> statement-breakpoint
CREATE INDEX "medical_records_contact_idx" ON "medical_records" USING btree ("clinic_id","contact_id","created_at");--> statement-breakpoint
CREATE INDEX "medical_records_addendum_idx" ON "medical_records" USING btree ("addendum_of");--> statement-breakpoint
CREATE UNIQUE INDEX "medical_records_chain_unique" ON "medical_records" USING btree ("contact_id","chain_seq");