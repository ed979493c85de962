import { whatsappNumbers, type WhatsappNumberState } from '../../shared/schema/index.js';
import { ClinicData } from '../../server/infra/clinic-data.js';
import type { NumberView } from '../../server/modules/whatsapp/numbers.js';
import type { FakeEvolution } from '../fakes/evolution.js';
import type { TestClinic } from './clinic.js';

/**
 * The app's environment for WhatsApp against a FakeEvolution: short timeout, a public URL for the
 * webhook, and the periodic probe out of the way (tests enqueue `whatsapp.numbers.probe` when they mean it).
 */
export const evolutionEnv = (evo: FakeEvolution, extra: Record<string, string> = {}) => ({
  EVOLUTION_API_URL: evo.url,
  EVOLUTION_API_KEY: evo.apiKey,
  EVOLUTION_TIMEOUT_MS: '1000',
  WHATSAPP_PROBE_EVERY_MS: '3600000',
  PUBLIC_API_URL: 'http://api.test',
  ...extra,
});

/** POST /whatsapp/numbers as the clinic's admin; throws unless 201. */
export async function createNumber(clinic: TestClinic, body: { name?: string; professionalId?: string } = {}): Promise<NumberView & { qr: unknown }> {
  const res = await clinic.admin.agent.post('/api/whatsapp/numbers').send(body);
  if (res.status !== 201) throw new Error(`create number: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as NumberView & { qr: unknown };
}

/**
 * A number whose phone is linked: created through the API on the fake, scanned, and `open` as the
 * `connection.update` webhook would make it.
 */
export async function connectedNumber(clinic: TestClinic, evo: FakeEvolution, opts: { professionalId?: string; phone?: string } = {}): Promise<NumberView> {
  const created = await createNumber(clinic, opts.professionalId ? { professionalId: opts.professionalId } : {});
  const phone = opts.phone ?? '5511940001234';
  evo.scan(created.instanceName, { phone });
  return clinic.app.modules.services.whatsapp.numbers.applyConnectionEvent(clinic.id, created.id, { state: 'open', phone: `${phone}@s.whatsapp.net` });
}

/** A number row with its connection and no gateway behind it (access tests, apps without Evolution). */
export async function storedNumber(clinic: TestClinic, opts: { state?: WhatsappNumberState; professionalId?: string } = {}) {
  const connection = await clinic.app.modules.services.integrations.connections.create(clinic.id, {
    provider: 'evolution',
    credentials: { instanceToken: 'token-sem-gateway', webhookSecret: 'segredo-sem-gateway' },
    webhook: true,
  });
  const [row] = await new ClinicData(clinic.id, clinic.app.infra.db)
    .insert(whatsappNumbers, { connectionId: connection.id, instanceName: `opb-test-${connection.id}`, state: opts.state ?? 'open', professionalId: opts.professionalId ?? null })
    .returning();
  if (!row) throw new Error('no number row');
  return row;
}
