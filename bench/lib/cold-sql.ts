// The SQL the app runs on its cache-miss paths, for the baselines to run too: the same statements
// and parameters, recorded from the app's queries (pg_stat_activity while the bench ran), with
// aliases where the app reads columns by position. bench/cache-miss.ts checks that each baseline
// answers the same ids as the app, so a drift in the app's SQL shows when it changes the rows.

/** `GET /api/appointments?professionalId=&from=&to=`: $1 $2 clinic, $3 from, $4 from - 24 h, $5 to, $6 professional, $7 limit + 1. */
export const WEEK_SQL = `select "appointments"."id", "appointments"."contact_id" as "contactId", "contacts"."name" as "contactName",
  "appointments"."professional_id" as "professionalId", "appointments"."starts_at" as "startsAt", "appointments"."ends_at" as "endsAt",
  "appointments"."status", "appointments"."type", "appointments"."notes", "appointments"."price_cents" as "priceCents",
  "appointments"."payment_status" as "paymentStatus", "appointments"."tag_id" as "tagId", "appointments"."cancellation_reason" as "cancellationReason",
  "appointments"."overbooked", "appointments"."series_id" as "seriesId", "appointments"."series_index" as "seriesIndex",
  "appointments"."created_at" as "createdAt", "appointments"."updated_at" as "updatedAt"
  from "appointments" inner join "contacts" on ("contacts"."clinic_id" = $1 and "contacts"."id" = "appointments"."contact_id")
  where ("appointments"."clinic_id" = $2 and ("appointments"."ends_at" > $3 and "appointments"."starts_at" > $4 and "appointments"."starts_at" < $5 and "appointments"."professional_id" = $6))
  order by "appointments"."starts_at" asc, "appointments"."id" asc limit $7`;

/** `GET /api/conversations` as an admin (every number visible): $1-$4 clinic, $5 limit + 1. */
export const INBOX_SQL = `select "conversations"."id", "conversations"."status", "conversations"."assignee_id", "conversations"."snoozed_until",
  "conversations"."unread_count", "conversations"."ai_enabled", "conversations"."last_message_at", "conversations"."activity_at", "conversations"."created_at",
  "conversations"."updated_at", "contacts"."id" as "contactId", "contacts"."name", "contacts"."phone", "whatsapp_numbers"."id" as "numberId",
  "whatsapp_numbers"."name" as "numberName", "whatsapp_numbers"."phone" as "numberPhone", "whatsapp_numbers"."state", "whatsapp_numbers"."professional_id",
  "messages"."id" as "lastId", "messages"."direction", "messages"."type", "messages"."status" as "lastStatus", "messages"."text", "messages"."sent_at"
  from "conversations"
  inner join "whatsapp_numbers" on ("whatsapp_numbers"."clinic_id" = $1 and "whatsapp_numbers"."id" = "conversations"."number_id")
  inner join "contacts" on ("contacts"."clinic_id" = $2 and "contacts"."id" = "conversations"."contact_id")
  left join "messages" on ("messages"."clinic_id" = $3 and "messages"."id" = "conversations"."last_message_id")
  where "conversations"."clinic_id" = $4
  order by "conversations"."activity_at" desc, "conversations"."id" desc limit $5`;

/** `GET /api/contacts?search=<one word>`: $1 clinic, $2 `%word%` (folded), $3 limit + 1, $4 offset 0. */
export const SEARCH_SQL = `select "id", "name", "phone", "email", "cpf", "birth_date", "status", "notes", "tags", "created_at", "updated_at"
  from "contacts"
  where ("contacts"."clinic_id" = $1 and "contacts"."deleted_at" is null and "contacts"."search_text" like $2)
  order by "contacts"."created_at" desc, "contacts"."id" desc limit $3 offset $4`;
