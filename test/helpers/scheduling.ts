import type { TestClinic } from './clinic.js';

let phoneSeq = 0;

/** A fresh valid CPF (check digits computed). */
export function randomCpf(): string {
  const base = Array.from({ length: 9 }, () => Math.floor(Math.random() * 10));
  const digit = (ds: number[]) => {
    const sum = ds.reduce((acc, d, i) => acc + d * (ds.length + 1 - i), 0);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  const d1 = digit(base);
  const d2 = digit([...base, d1]);
  return [...base, d1, d2].join('');
}

/** Creates a patient through the API and returns its id. */
export async function createPatient(clinic: TestClinic, body: Record<string, unknown> = {}): Promise<string> {
  phoneSeq++;
  const res = await clinic.receptionist.agent
    .post('/api/contacts')
    .send({ name: 'Paciente Teste', phone: `(11) 9${String(1000_0000 + ((Date.now() + phoneSeq) % 9000_0000)).slice(0, 8)}`, ...body });
  if (res.status !== 201) throw new Error(`patient: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** A Monday at least a few weeks ahead (no holiday logic needed by the caller), as YYYY-MM-DD. */
export function futureMonday(weeksAhead = 3): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + weeksAhead * 7);
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}
