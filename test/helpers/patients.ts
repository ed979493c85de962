import { contacts } from '../../shared/schema/index.js';
import type { TestClinic } from './clinic.js';

/**
 * A patient of `clinic`, inserted directly (POST /contacts belongs to the scheduling module).
 * Names are unique so a test can look for them in exports and logs.
 */
export async function createPatient(clinic: TestClinic, fields: Partial<typeof contacts.$inferInsert> = {}) {
  const tag = Math.random().toString(36).slice(2, 8);
  const [row] = await clinic.app.infra.db
    .insert(contacts)
    .values({ clinicId: clinic.id, name: `Paciente ${tag}`, phone: `+55119${Math.floor(10_000_000 + Math.random() * 89_999_999)}`, email: `paciente-${tag}@example.com`, status: 'active', ...fields })
    .returning();
  if (!row) throw new Error('no contact');
  return row;
}
