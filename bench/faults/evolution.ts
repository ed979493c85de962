// The Evolution API down (connection refused) for 2 minutes under load: sends wait and go out once
// when it returns, the number's state shows the outage, nothing is sent twice.
import { check, sleep } from '../../scripts/rehearsal/harness.js';
import type { FaultSpec } from './lib/fault.js';

/** The number's states seen through GET /api/whatsapp/numbers/:id while the gateway was down. */
const seen: string[] = [];
/** The send whose connection was cut before the gateway acted on it. */
let cut: { text?: string } | undefined;

export const evolutionFault: FaultSpec = {
  name: 'evolution',
  title: 'Evolution API down',
  recoveryMs: (short) => (short ? 30_000 : 60_000),
  inject: async ({ stack, clinic, h, short }) => {
    seen.length = 0;
    const downMs = short ? 8_000 : 120_000;
    // Two sends the app cannot confirm: one cut before the gateway acted on it (the app must look it
    // up once the gateway is back and send it then), one the gateway sent and held unanswered until
    // the outage cut it (its webhook echo or the lookup must settle it, never a second send).
    const sentBefore = stack.evo.sent.length;
    const requestsBefore = stack.evo.requests.length;
    stack.evo.cutNext('message/sendText');
    stack.evo.delayNext('message/sendText', 10 * 60_000);
    for (let waited = 0; stack.evo.sent.length === sentBefore && waited < 10_000; waited += 50) await sleep(50);
    check(stack.evo.sent.length > sentBefore, 'no send reached the gateway to be cut in flight');
    cut = stack.evo.requests.slice(requestsBefore).find((r) => r.route === 'message/sendText')?.body as { text?: string } | undefined;
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
  checks: async ({ h, clinic, stack }) => {
    await h.step('the send cut before the gateway acted was looked up after the outage and sent once', async () => {
      check(cut?.text, 'no send was cut');
      const [row] = (await stack.pg.query<{ status: string; send_attempt: number }>("select status, send_attempt from messages where number_id = $1 and direction = 'outbound' and text = $2", [clinic.numberId, cut.text]));
      const received = stack.evo.sent.filter((s) => s.request.text === cut?.text).length;
      check(row && row.send_attempt === 2 && received === 1, `the cut send is ${row?.status ?? 'missing'} at attempt ${row?.send_attempt}, received ${received} time(s) by the gateway`);
      return `${row.status} at its second attempt, received once`;
    });
    await h.step("the number's state showed the outage, and is open again after it", async () => {
      const states = [...new Set(seen)];
      check(states.some((s) => s !== 'open'), `the number read ${states.join(', ') || 'nothing'} throughout the outage`);
      const now = (await clinic.user.request('GET', `/api/whatsapp/numbers/${clinic.numberId}`)).body as { state?: string; gatewayError?: string | null };
      check(now.state === 'open' && !now.gatewayError, `after the outage the number is ${now.state} (${now.gatewayError ?? 'no gateway error'})`);
      return `states during the outage: ${states.join(', ')}; open after it`;
    });
  },
};
