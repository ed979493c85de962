CREATE TABLE "google_calendar_busy" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"sync_id" uuid NOT NULL,
	"professional_id" uuid NOT NULL,
	"google_event_id" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"all_day" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "google_calendar_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"appointment_id" uuid NOT NULL,
	"professional_id" uuid NOT NULL,
	"calendar_id" text NOT NULL,
	"google_event_id" text NOT NULL,
	"etag" text,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"conflict" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "google_calendar_settings" (
	"clinic_id" uuid PRIMARY KEY NOT NULL,
	"event_detail" text DEFAULT 'first_name' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "google_calendar_syncs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"clinic_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"professional_id" uuid NOT NULL,
	"calendar_id" text NOT NULL,
	"summary" text,
	"time_zone" text,
	"target" boolean DEFAULT false NOT NULL,
	"busy" boolean DEFAULT false NOT NULL,
	"sync_token" text,
	"channel_id" text,
	"channel_resource_id" text,
	"channel_expires_at" timestamp with time zone,
	"channel_token_hash" text,
	"last_message_number" bigint,
	"last_sync_at" timestamp with time zone,
	"last_full_sync_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"error_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "google_calendar_busy" ADD CONSTRAINT "google_calendar_busy_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_busy" ADD CONSTRAINT "google_calendar_busy_sync_id_google_calendar_syncs_id_fk" FOREIGN KEY ("sync_id") REFERENCES "public"."google_calendar_syncs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_events" ADD CONSTRAINT "google_calendar_events_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_events" ADD CONSTRAINT "google_calendar_events_connection_id_integration_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."integration_connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_settings" ADD CONSTRAINT "google_calendar_settings_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_syncs" ADD CONSTRAINT "google_calendar_syncs_clinic_id_clinics_id_fk" FOREIGN KEY ("clinic_id") REFERENCES "public"."clinics"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_syncs" ADD CONSTRAINT "google_calendar_syncs_connection_id_integration_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."integration_connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "google_calendar_syncs" ADD CONSTRAINT "google_calendar_syncs_professional_id_users_id_fk" FOREIGN KEY ("professional_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "google_calendar_busy_event_unique" ON "google_calendar_busy" USING btree ("sync_id","google_event_id");--> statement-breakpoint
CREATE INDEX "google_calendar_busy_time_idx" ON "google_calendar_busy" USING btree ("clinic_id","professional_id","starts_at");--> statement-breakpoint
CREATE UNIQUE INDEX "google_calendar_events_appointment_unique" ON "google_calendar_events" USING btree ("clinic_id","appointment_id");--> statement-breakpoint
CREATE INDEX "google_calendar_events_google_idx" ON "google_calendar_events" USING btree ("connection_id","google_event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "google_calendar_syncs_calendar_unique" ON "google_calendar_syncs" USING btree ("connection_id","calendar_id");--> statement-breakpoint
CREATE UNIQUE INDEX "google_calendar_syncs_channel_unique" ON "google_calendar_syncs" USING btree ("channel_id");--> statement-breakpoint
CREATE INDEX "google_calendar_syncs_clinic_idx" ON "google_calendar_syncs" USING btree ("clinic_id","professional_id");