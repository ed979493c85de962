import type { TestClinic } from './clinic.js';
import { createPatient as createPatientRecord } from './patients.js';

export { randomCpf } from './patients.js';

/** A patient created through the API; its id. */
export const createPatient = async (clinic: TestClinic, body: Record<string, unknown> = {}): Promise<string> => (await createPatientRecord(clinic, body)).id;

/** A Monday at least a few weeks ahead (no holiday logic needed by the caller), as YYYY-MM-DD. */
export function futureMonday(weeksAhead = 3): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + weeksAhead * 7);
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
