CREATE TYPE "public"."opportunity_history_kind" AS ENUM('created', 'moved', 'won', 'lost', 'reopened');--> statement-breakpoint
CREATE TYPE "public"."opportunity_status" AS ENUM('open', 'won', 'lost');--> statement-breakpoint
CREATE TYPE "public"."pipeline_activity_type" AS ENUM('call', 'message', 'meeting', 'note');--> statement-breakpoint
CREATE TABLE "opportunities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"stage_id" uuid NOT NULL,
	"position" text COLLATE "C" NOT NULL,
	"title" text NOT NULL,
	"value_cents" integer,
	"probability" integer,
	"expected_close_date" date,
	"owner_id" uuid,
	"status" "opportunity_status" DEFAULT 'open' NOT NULL,
	"lost_reason" text,
	"closed_at" timestamp with time zone,
	"stage_entered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "opportunities_value_positive" CHECK ("opportunities"."value_cents" is null or "opportunities"."value_cents" >= 0),
	CONSTRAINT "opportunities_probability_range" CHECK ("opportunities"."probability" is null or "opportunities"."probability" between 0 and 100),
	CONSTRAINT "opportunities_lost_reason" CHECK (("opportunities"."status" = 'lost') = ("opportunities"."lost_reason" is not null))
);
--> statement-breakpoint
CREATE TABLE "opportunity_history" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"kind" "opportunity_history_kind" NOT NULL,
	"from_stage_id" uuid,
	"to_stage_id" uuid,
	"actor_id" uuid,
	"source" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_activities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"opportunity_id" uuid,
	"type" "pipeline_activity_type" NOT NULL,
	"title" text NOT NULL,
	"notes" text,
	"due_date" date,
	"due_time" time,
	"assignee_id" uuid,
	"completed_at" timestamp with time zone,
	"completed_by" uuid,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pipeline_activities_due_time_needs_date" CHECK ("pipeline_activities"."due_time" is null or "pipeline_activities"."due_date" is not null)
);
--> statement-breakpoint
CREATE TABLE "pipeline_rule_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"rule" text NOT NULL,
	"appointment_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_settings" (
	"clinic_id" uuid PRIMARY KEY NOT NULL,
	"first_booking_enabled" boolean DEFAULT false NOT NULL,
	"first_booking_stage_id" uuid,
	"first_completion_enabled" boolean DEFAULT false NOT NULL,
	"first_completion_stage_id" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pipeline_stages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"name" text NOT NULL,
	"color" text NOT NULL,
	"sort_order" integer NOT NULL,
	"default_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pipeline_stages_clinic_id_unique" UNIQUE("clinic_id","id")
);
--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_stage_fk" FOREIGN KEY ("clinic_id","stage_id") REFERENCES "public"."pipeline_stages"("clinic_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunity_history" ADD CONSTRAINT "opportunity_history_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunity_history" ADD CONSTRAINT "opportunity_history_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_activities" ADD CONSTRAINT "pipeline_activities_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_activities" ADD CONSTRAINT "pipeline_activities_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "public"."contacts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_activities" ADD CONSTRAINT "pipeline_activities_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_activities" ADD CONSTRAINT "pipeline_activities_assignee_id_users_id_fk" FOREIGN KEY ("assignee_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_rule_runs" ADD CONSTRAINT "pipeline_rule_runs_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_rule_runs" ADD CONSTRAINT "pipeline_rule_runs_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_settings" ADD CONSTRAINT "pipeline_settings_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_settings" ADD CONSTRAINT "pipeline_settings_first_booking_stage_id_pipeline_stages_id_fk" FOREIGN KEY ("first_booking_stage_id") REFERENCES "public"."pipeline_stages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_settings" ADD CONSTRAINT "pipeline_settings_first_completion_stage_id_pipeline_stages_id_fk" FOREIGN KEY ("first_completion_stage_id") REFERENCES "public"."pipeline_stages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pipeline_stages" ADD CONSTRAINT "pipeline_stages_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "opportunities_stage_position_unique" ON "opportunities" USING btree ("clinic_id","stage_id","position");--> statement-breakpoint
CREATE INDEX "opportunities_contact_idx" ON "opportunities" USING btree ("clinic_id","contact_id");--> statement-breakpoint
CREATE INDEX "opportunities_clinic_created_idx" ON "opportunities" USING btree ("clinic_id","created_at");--> statement-breakpoint
CREATE INDEX "opportunity_history_opportunity_idx" ON "opportunity_history" USING btree ("clinic_id","opportunity_id","at");--> statement-breakpoint
CREATE INDEX "opportunity_history_contact_idx" ON "opportunity_history" USING btree ("clinic_id","contact_id");--> statement-breakpoint
CREATE INDEX "pipeline_activities_contact_idx" ON "pipeline_activities" USING btree ("clinic_id","contact_id");--> statement-breakpoint
CREATE INDEX "pipeline_activities_opportunity_idx" ON "pipeline_activities" USING btree ("clinic_id","opportunity_id");--> statement-breakpoint
CREATE INDEX "pipeline_activities_due_idx" ON "pipeline_activities" USING btree ("clinic_id","due_date") WHERE "pipeline_activities"."completed_at" is null and "pipeline_activities"."due_date" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_rule_runs_unique" ON "pipeline_rule_runs" USING btree ("clinic_id","opportunity_id","rule");--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_stages_clinic_name_unique" ON "pipeline_stages" USING btree ("clinic_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "pipeline_stages_clinic_key_unique" ON "pipeline_stages" USING btree ("clinic_id","default_key");