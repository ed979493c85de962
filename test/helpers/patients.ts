import type { TestClinic } from './clinic.js';

let phoneSeq = 0;

/** The CPF with these nine digits and their check digits. */
export function cpfFrom(base: number[]): string {
  const digit = (ds: number[]) => {
    const sum = ds.reduce((acc, d, i) => acc + d * (ds.length + 1 - i), 0);
    const rest = (sum * 10) % 11;
    return rest === 10 ? 0 : rest;
  };
  const d1 = digit(base);
  return [...base, d1, digit([...base, d1])].join('');
}

/** A fresh valid CPF (check digits computed). */
export const randomCpf = (): string => cpfFrom(Array.from({ length: 9 }, () => Math.floor(Math.random() * 10)));

export interface Patient {
  id: string;
  name: string;
  phone: string | null;
  email: string | null;
  cpf: string | null;
}

/**
 * A patient created through the API by the receptionist, with a unique name and phone so a test
 * can look for them in exports and logs.
 */
export async function createPatient(clinic: TestClinic, body: Record<string, unknown> = {}): Promise<Patient> {
  phoneSeq++;
  const tag = Math.random().toString(36).slice(2, 8);
  const res = await clinic.receptionist.agent.post('/api/contacts').send({
    name: `Paciente ${tag}`,
    phone: `(11) 9${String(1000_0000 + ((Date.now() + phoneSeq) % 9000_0000)).slice(0, 8)}`,
    status: 'active',
    ...body,
  });
  if (res.status !== 201) throw new Error(`patient: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Patient;
}
