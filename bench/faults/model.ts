// The model provider answering 429, then 500, for a minute while patients write: conversations are
// handed to a person, nothing hangs, the budget is not spent on retries; answers resume after.
import { randomBytes } from 'node:crypto';
import { check, sleep, waitFor } from '../../scripts/rehearsal/harness.js';
import { settle } from './lib/invariants.js';
import { inboundMessage } from './lib/driver.js';
import type { FaultSpec } from './lib/fault.js';

const USAGE = 'select coalesce(sum(input_tokens + output_tokens), 0)::int as tokens, coalesce(sum(errors), 0)::int as errors from ai_usage_daily';
const errorsBefore = { n: 0 };

export const modelFault: FaultSpec = {
  name: 'model',
  title: 'model provider answering 429 then 500',
  assistant: true,
  // A person's send pauses the assistant in that conversation: the load here is patients writing.
  driver: { webhookLoops: 2, sendLoops: 0, readLoops: 2, pauseMs: 400 },
  recoveryMs: (short) => (short ? 30_000 : 60_000),
  inject: async ({ stack, h, short }) => {
    const halfMs = short ? 6_000 : 30_000;
    errorsBefore.n = (await stack.pg.query<{ errors: number }>(USAGE))[0]?.errors ?? 0;
    stack.openai.failAll = { status: 429, retryAfter: 1 };
    h.log(`the fake OpenAI answers 429 for ${halfMs / 1000} s, then 500 for ${halfMs / 1000} s`);
    await sleep(halfMs);
    stack.openai.failAll = { status: 500 };
    await sleep(halfMs);
    stack.openai.failAll = undefined;
    return { detail: `429 for ${halfMs / 1000} s then 500 for ${halfMs / 1000} s on every request to the fake OpenAI` };
  },
  checks: async ({ h, stack, clinic }, window) => {
    await h.step('conversations hit by the outage handed to a person (model_error), replies sent once', async () => {
      const handoffs = await stack.pg.query<{ conversation_id: string; n: number }>(
        "select conversation_id, count(*)::int as n from messages where number_id = $1 and sender = 'ai' and meta->>'handoff' = 'model_error' group by 1",
        [clinic.numberId],
      );
      check(handoffs.length > 0, 'no conversation was handed off with reason model_error');
      const pendingOutbound = () => stack.pg.query<{ sender: string; status: string; error: string | null; claimed: boolean; at: number }>(
        "select sender, status, error, sending_at is not null as claimed, (extract(epoch from created_at) * 1000)::float8 as at from messages where number_id = $1 and direction = 'outbound' and status in ('pending', 'unconfirmed')",
        [clinic.numberId],
      );
      const left = await settle('the handoff messages to be sent', pendingOutbound, (rows) => rows.length === 0, Math.max(5000, window.end + window.recoveryMs - Date.now()));
      const described = left.map((m) => `${m.sender} ${m.status}${m.error ? ` (${m.error})` : ''}${m.claimed ? ', claimed by a send job' : ''}, stored ${((m.at - window.start) / 1000).toFixed(1)} s after the outage began`);
      check(left.length === 0, `${left.length} outbound messages still pending or unconfirmed: ${described.slice(0, 3).join(' | ')}`);
      const handedOff = await stack.pg.query<{ n: number }>("select count(*)::int as n from conversations where number_id = $1 and status = 'pending' and ai_paused_until > now()", [clinic.numberId]);
      return `${handoffs.length} conversations handed off (model_error), ${handedOff[0]?.n ?? 0} pending and paused; no outbound message left pending`;
    });
    await h.step('the budget counts only what the provider served: failed calls and their retries spent nothing', async () => {
      const read = async () => (await stack.pg.query<{ tokens: number; errors: number }>(USAGE))[0] ?? { tokens: -1, errors: 0 };
      const usage = await settle('usage to match what the fake served', read, (u) => u.tokens === stack.openai.servedTokens && u.errors > errorsBefore.n, Math.max(5000, window.end + window.recoveryMs - Date.now()));
      check(usage.errors > errorsBefore.n, `no failed model call was recorded (errors ${errorsBefore.n} -> ${usage.errors})`);
      check(usage.tokens === stack.openai.servedTokens, `ai_usage_daily counts ${usage.tokens} tokens; the fake served ${stack.openai.servedTokens} in successful answers`);
      const requests = stack.openai.requests.filter((r) => r.path.endsWith('/chat/completions')).length;
      return `${usage.errors - errorsBefore.n} failed calls recorded; ${usage.tokens} tokens counted = ${stack.openai.servedTokens} served; ${requests} chat requests reached the fake, retries included`;
    });
    await h.step('after the outage a new patient gets a model answer again', async () => {
      const phone = '5511976543210';
      const id = `3A${randomBytes(9).toString('hex').toUpperCase()}`;
      const delivery = await stack.evo.deliver(clinic.instanceName, 'messages.upsert', inboundMessage(clinic.instanceName, phone, id, 'Qual o horário de vocês?'), { origin: stack.live()[0]?.url });
      check(delivery.status === 200, `webhook: ${delivery.status}`);
      const reply = await waitFor('the assistant reply', async () => {
        const [row] = await stack.pg.query<{ status: string; handoff: string | null }>(
          "select m.status, m.meta->>'handoff' as handoff from messages m join messages i on i.conversation_id = m.conversation_id where i.external_id = $1 and m.sender = 'ai' and m.status <> 'pending'",
          [id],
        );
        return row;
      }, 30_000);
      check(reply.handoff === null, `the new patient was handed off (${reply.handoff}) instead of answered`);
      return `answered by the model, message ${reply.status}`;
    });
  },
};
