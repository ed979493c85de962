CREATE TYPE "public"."ai_feature" AS ENUM('auto_reply', 'professional_assistant', 'embedding', 'other');--> statement-breakpoint
CREATE TYPE "public"."ai_template_category" AS ENUM('confirmation', 'reminder', 'follow_up', 'return', 'birthday', 'other');--> statement-breakpoint
CREATE TABLE "ai_configs" (
	"clinic_id" uuid PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT false NOT NULL,
	"number_ids" uuid[] DEFAULT '{}' NOT NULL,
	"hours" jsonb,
	"system_prompt" text,
	"knowledge_base_ids" uuid[] DEFAULT '{}' NOT NULL,
	"booking_professional_ids" uuid[],
	"booking_appointment_types" "appointment_type"[] NOT NULL,
	"pause_after_human_minutes" integer NOT NULL,
	"debounce_seconds" integer NOT NULL,
	"max_replies_per_hour" integer NOT NULL,
	"handoff_keywords" text[] NOT NULL,
	"daily_token_budget" integer NOT NULL,
	"clinical_ai_enabled" boolean DEFAULT false NOT NULL,
	"clinical_ai_statement_version" text,
	"clinical_ai_enabled_at" timestamp with time zone,
	"clinical_ai_enabled_by" uuid,
	"updated_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ai_configs_pause_range" CHECK ("ai_configs"."pause_after_human_minutes" between 1 and 43200),
	CONSTRAINT "ai_configs_debounce_range" CHECK ("ai_configs"."debounce_seconds" between 0 and 300),
	CONSTRAINT "ai_configs_replies_range" CHECK ("ai_configs"."max_replies_per_hour" between 1 and 120),
	CONSTRAINT "ai_configs_budget_range" CHECK ("ai_configs"."daily_token_budget" >= 0)
);
--> statement-breakpoint
CREATE TABLE "ai_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"key" text,
	"name" text NOT NULL,
	"category" "ai_template_category" NOT NULL,
	"body" text NOT NULL,
	"created_by" uuid,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ai_usage_daily" (
	"clinic_id" uuid NOT NULL,
	"day" date NOT NULL,
	"feature" "ai_feature" NOT NULL,
	"model" text NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"errors" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ai_usage_daily_pk" PRIMARY KEY("clinic_id","day","feature","model")
);
--> statement-breakpoint
ALTER TABLE "ai_configs" ADD CONSTRAINT "ai_configs_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_configs" ADD CONSTRAINT "ai_configs_clinical_ai_enabled_by_users_id_fk" FOREIGN KEY ("clinical_ai_enabled_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_configs" ADD CONSTRAINT "ai_configs_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_templates" ADD CONSTRAINT "ai_templates_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_templates" ADD CONSTRAINT "ai_templates_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ai_usage_daily" ADD CONSTRAINT "ai_usage_daily_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "ai_templates_clinic_key_unique" ON "ai_templates" USING btree ("clinic_id","key");--> statement-breakpoint
CREATE INDEX "ai_templates_clinic_idx" ON "ai_templates" USING btree ("clinic_id","created_at");