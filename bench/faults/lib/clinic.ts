// The clinic a fault script works in: registered through the API, one WhatsApp number linked on
// the fake gateway, and a few patients whose first message opened a conversation.
import { randomUUID } from 'node:crypto';
import { Client } from '../../../scripts/rehearsal/client.js';
import { check, waitFor } from '../../../scripts/rehearsal/harness.js';
import { describe, registerAndLogin } from '../../../scripts/rehearsal/single.js';
import { ORIGIN, type FaultStack } from './stack.js';
import { inboundMessage } from './driver.js';

export interface FaultClinic {
  user: Client;
  numberId: string;
  instanceName: string;
  /** Patients' phones (digits), each with an open conversation. */
  phones: string[];
  conversationIds: string[];
}

const PATIENTS = 8;

export async function setUpClinic(stack: FaultStack, opts: { assistant?: boolean } = {}): Promise<FaultClinic> {
  const url = stack.instances[0]?.url;
  check(url, 'no instance started');
  // Where the fake gateway sends the webhooks it emits by itself (connection.update, send.message).
  stack.evo.webhookOrigin = url;
  const tag = randomUUID().slice(0, 8);
  const { client: user } = await registerAndLogin(url, ORIGIN, `falhas.${tag}@example.com`, `Senha-falhas-${tag}`);
  const created = await user.request('POST', '/api/whatsapp/numbers', { json: { name: 'Recepção' } });
  check(created.status === 201, `POST /api/whatsapp/numbers: ${describe(created)}`);
  const number = created.body as { id: string; instanceName: string };
  stack.evo.scan(number.instanceName, { phone: '5511940001234' });
  await stack.evo.settle();
  await waitFor('the number to be open', async () => ((await user.request('GET', `/api/whatsapp/numbers/${number.id}`)).body as { state?: string }).state === 'open' || undefined, 15_000);
  if (opts.assistant) {
    const config = await user.request('PUT', '/api/ai/config', { json: { enabled: true, numberIds: [number.id], debounceSeconds: 0, maxRepliesPerHour: 120 } });
    check(config.status === 200, `PUT /api/ai/config: ${describe(config)}`);
  }
  const phones = Array.from({ length: PATIENTS }, (_, i) => `5511987${String(100000 + i * 7919).slice(-6)}`);
  for (const phone of phones) {
    const delivery = await stack.evo.deliver(number.instanceName, 'messages.upsert', inboundMessage(number.instanceName, phone, `3A${randomUUID().replace(/-/g, '').slice(0, 18).toUpperCase()}`, 'Olá, bom dia'), { origin: url });
    check(delivery.status === 200, `first webhook of ${phone}: ${delivery.status} ${delivery.body}`);
  }
  const conversationIds = await waitFor(
    `${PATIENTS} conversations`,
    async () => {
      const list = await user.request('GET', '/api/conversations?limit=50');
      const items = (list.body as { items?: { id: string }[] }).items ?? [];
      return items.length >= PATIENTS ? items.map((c) => c.id) : undefined;
    },
    30_000,
  );
  return { user, numberId: number.id, instanceName: number.instanceName, phones, conversationIds };
}
