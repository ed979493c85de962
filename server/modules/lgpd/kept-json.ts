import { eq, isNotNull } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { ClinicData, type ClinicTable } from '../../infra/clinic-data.js';
import type { Tx } from '../../infra/db.js';
import type { Redact } from './redact.js';

/**
 * What the platform keeps as JSON for a while (the outbox's event payloads, the stored answers of
 * idempotent requests) loses the patient's identifiers: each of the clinic's rows in `table.key`
 * is redacted as text, in the anonymisation's transaction.
 */
export async function redactKeptJson<T extends ClinicTable & { id: PgColumn }>(tx: Tx, clinicId: string, table: T, key: keyof T['$inferSelect'] & string, redact: Redact) {
  const column = (table as unknown as Record<string, PgColumn>)[key] as PgColumn;
  const data = new ClinicData(clinicId, tx);
  const rows = await data.pick({ id: table.id, value: column }, table, isNotNull(column));
  for (const row of rows) {
    const text = JSON.stringify(row.value);
    const redacted = redact(text);
    if (redacted !== text) await data.update(table, { [key]: JSON.parse(redacted) as unknown } as never, eq(table.id, row.id));
  }
}
