// The SQL the app runs on its cache-miss paths, for the baselines to run too (same statements,
// same parameters; recorded from the services' queries). bench/cache-miss.ts checks that each
// baseline answers the same ids as the app, so a drift in the app's SQL shows.

/** `GET /api/appointments?professionalId=&from=&to=`: $1 clinic, $2 from, $3 to, $4 professional. */
export const WEEK_SQL = `select a.id, a.contact_id as "contactId", c.name as "contactName", a.professional_id as "professionalId", a.starts_at as "startsAt",
  a.ends_at as "endsAt", a.status, a.type, a.notes, a.price_cents as "priceCents", a.payment_status as "paymentStatus", a.tag_id as "tagId",
  a.cancellation_reason as "cancellationReason", a.overbooked, a.series_id as "seriesId", a.series_index as "seriesIndex",
  a.created_at as "createdAt", a.updated_at as "updatedAt"
  from appointments a join contacts c on c.id = a.contact_id
  where a.clinic_id = $1 and a.ends_at > $2 and a.starts_at > $2::timestamptz - interval '24 hours' and a.starts_at < $3 and a.professional_id = $4
  order by a.starts_at, a.id limit 201`;

/** `GET /api/conversations` as an admin (every number visible): $1 clinic, $2 limit + 1. */
export const INBOX_SQL = `select "conversations"."id", "conversations"."status", "conversations"."assignee_id", "conversations"."snoozed_until",
  "conversations"."unread_count", "conversations"."ai_enabled", "conversations"."last_message_at", "conversations"."created_at", "conversations"."updated_at",
  "contacts"."id" as "contactId", "contacts"."name", "contacts"."phone", "whatsapp_numbers"."id" as "numberId", "whatsapp_numbers"."name" as "numberName",
  "whatsapp_numbers"."phone" as "numberPhone", "whatsapp_numbers"."state", "whatsapp_numbers"."professional_id", "messages"."id" as "lastId",
  "messages"."direction", "messages"."type", "messages"."status" as "lastStatus", "messages"."text", "messages"."sent_at"
  from "conversations"
  inner join "whatsapp_numbers" on ("whatsapp_numbers"."clinic_id" = $1 and "whatsapp_numbers"."id" = "conversations"."number_id")
  inner join "contacts" on ("contacts"."clinic_id" = $1 and "contacts"."id" = "conversations"."contact_id")
  left join "messages" on ("messages"."clinic_id" = $1 and "messages"."id" = "conversations"."last_message_id")
  where ("conversations"."clinic_id" = $1 and "conversations"."last_message_at" is not null)
  order by "conversations"."last_message_at" desc, "conversations"."id" desc limit $2`;

/** `GET /api/contacts?search=<one word>`: $1 clinic, $2 `%word%` (folded), $3 limit + 1. */
export const SEARCH_SQL = `select "id", "name", "phone", "email", "cpf", "birth_date", "status", "notes", "tags", "created_at", "updated_at"
  from "contacts"
  where ("contacts"."clinic_id" = $1 and "contacts"."deleted_at" is null and "contacts"."search_text" like $2)
  order by "contacts"."created_at" desc, "contacts"."id" desc limit $3`;
