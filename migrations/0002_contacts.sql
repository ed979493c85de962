CREATE TYPE "public"."contact_status" AS ENUM('lead', 'active', 'inactive');--> statement-breakpoint
CREATE TABLE "contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"name" text NOT NULL,
	"phone" text,
	"email" text,
	"cpf" text,
	"birth_date" date,
	"status" "contact_status" DEFAULT 'lead' NOT NULL,
	"notes" text,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"deleted_at" timestamp with time zone,
	"anonymized_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "contacts_clinic_created_idx" ON "contacts" USING btree ("clinic_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_clinic_cpf_unique" ON "contacts" USING btree ("clinic_id","cpf") WHERE "contacts"."cpf" is not null and "contacts"."deleted_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_clinic_phone_unique" ON "contacts" USING btree ("clinic_id","phone") WHERE "contacts"."phone" is not null and "contacts"."deleted_at" is null;