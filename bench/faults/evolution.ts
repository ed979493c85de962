// The Evolution API down (connection refused) for 2 minutes under load: sends wait and go out once
// when it returns, the number's state shows the outage, nothing is sent twice.
import { check, sleep } from '../../scripts/rehearsal/harness.js';
import type { FaultSpec } from './lib/fault.js';

/** The number's states seen through GET /api/whatsapp/numbers/:id while the gateway was down. */
const seen: string[] = [];

export const evolutionFault: FaultSpec = {
  name: 'evolution',
  title: 'Evolution API down',
  recoveryMs: (short) => (short ? 30_000 : 60_000),
  sendsCutInFlight: true,
  inject: async ({ stack, clinic, h, short }) => {
    seen.length = 0;
    const downMs = short ? 8_000 : 120_000;
    await stack.evo.down();
    h.log(`the fake Evolution refuses connections for ${downMs / 1000} s`);
    const until = Date.now() + downMs;
    while (Date.now() < until) {
      const reply = await clinic.user.request('GET', `/api/whatsapp/numbers/${clinic.numberId}`).catch(() => undefined);
      const body = reply?.body as { state?: string; stateReason?: string | null; gatewayError?: string | null } | undefined;
      // The probe keeps the last state WhatsApp gave and names the outage beside it.
      if (body?.state) seen.push(`${body.state}${body.stateReason ? `/${body.stateReason}` : ''}${body.gatewayError ? ` (${body.gatewayError})` : ''}`);
      await sleep(1000);
    }
    await stack.evo.up();
    return { detail: `Evolution refused connections for ${downMs / 1000} s, then answered again` };
  },
  checks: async ({ h, clinic }) => {
    await h.step("the number's state showed the outage, and is open again after it", async () => {
      const states = [...new Set(seen)];
      check(states.some((s) => s !== 'open'), `the number read ${states.join(', ') || 'nothing'} throughout the outage`);
      const now = (await clinic.user.request('GET', `/api/whatsapp/numbers/${clinic.numberId}`)).body as { state?: string; gatewayError?: string | null };
      check(now.state === 'open' && !now.gatewayError, `after the outage the number is ${now.state} (${now.gatewayError ?? 'no gateway error'})`);
      return `states during the outage: ${states.join(', ')}; open after it`;
    });
  },
};
