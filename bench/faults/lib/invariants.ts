// The invariants every fault script checks afterwards, from the database and the fakes, each as
// one harness step: PASS with its evidence or FAIL naming what broke.
import { check, sleep, waitFor, type Harness } from '../../../scripts/rehearsal/harness.js';
import type { FaultClinic } from './clinic.js';
import type { Answer, LoadDriver } from './driver.js';
import type { FaultStack } from './stack.js';

export interface FaultWindow {
  /** When the fault was injected and when it ended (the dependency back, the instance gone). */
  start: number;
  end: number;
  /** How long after `end` every request must be answered normally again. */
  answersBackMs: number;
  /** How long after `end` the stored work must be done on its own (queues, outbox, sends). */
  recoveryMs: number;
}

const SENT_STATUSES = ['server_ack', 'delivery_ack', 'read', 'played'];
const count = (answers: Answer[]) => {
  const by = new Map<string, number>();
  for (const a of answers) by.set(`${a.kind} ${a.status || 'no answer'}`, (by.get(`${a.kind} ${a.status || 'no answer'}`) ?? 0) + 1);
  return [...by].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
};
const ok = (a: Answer) => a.status >= 200 && a.status < 300;
/** A 503 that says when to come back is the documented answer of a dependency outage. */
const retryable503 = (a: Answer) => a.status === 503 && a.retryAfter !== null;

/** Reads until `done` holds or `ms` ran out; answers the last reading either way. */
export async function settle<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, ms: number): Promise<T> {
  return waitFor(what, async () => {
    const value = await read();
    return done(value) ? value : undefined;
  }, ms).catch(read);
}

/** Gateway sends and stored outbound messages, counted per recipient's digits and text: more sends than messages is a double send. */
async function sendsPerMessage(stack: FaultStack, numberId: string) {
  const stored = await stack.pg.query<{ phone: string; text: string; n: number }>(
    "select regexp_replace(coalesce(c.phone, ''), '\\D', '', 'g') as phone, m.text, count(*)::int as n from messages m join conversations v on v.id = m.conversation_id join contacts c on c.id = v.contact_id where m.number_id = $1 and m.direction = 'outbound' and m.external_id is not null group by 1, 2",
    [numberId],
  );
  const expected = new Map(stored.map((r) => [`${r.phone} ${r.text}`, r.n]));
  const sent = new Map<string, number>();
  for (const s of stack.evo.sent) {
    const key = `${s.number.replace(/@.*/, '').replace(/\D/g, '')} ${String(s.request.text)}`;
    sent.set(key, (sent.get(key) ?? 0) + 1);
  }
  return [...sent].filter(([key, n]) => n > (expected.get(key) ?? 0));
}

/** Each check waits until its invariant holds, up to the recovery bound (never less than 5 s). */
export async function checkInvariants(h: Harness, stack: FaultStack, clinic: FaultClinic, driver: LoadDriver, window: FaultWindow, opts: { allowLostConnections?: boolean } = {}) {
  const recoveryDeadline = window.end + window.recoveryMs;
  const untilRecovered = () => Math.max(5_000, recoveryDeadline - Date.now());
  /** No answer from an instance the fault killed (from 30 s before its death): lost with it, when the fault allows it. */
  const lostWithInstance = (a: Answer) => !!opts.allowLostConnections && a.status === 0 && driver.dead.has(a.target) && a.at >= (driver.dead.get(a.target) as number) - 30_000;

  await h.step('no 500: every answer 2xx, a 4xx of the client, or 503 with Retry-After', async () => {
    const bad = driver.answers.filter((a) => {
      if (a.status === 0) return !lostWithInstance(a);
      return a.status >= 500 && !retryable503(a);
    });
    const sample = [...new Set(bad.map((a) => `${a.kind} ${a.status} ${a.error ?? ''}`.trim()))].slice(0, 5).join(' | ');
    check(bad.length === 0, `${bad.length} of ${driver.answers.length} answers were failures (${sample}); all: ${count(driver.answers)}`);
    return `${driver.answers.length} answers: ${count(driver.answers)}`;
  });

  await h.step(`requests answered normally again within ${window.answersBackMs / 1000} s of the fault's end`, async () => {
    const answersBack = window.end + window.answersBackMs;
    // A send whose attempt died with the killed instance keeps its Idempotency-Key in progress until
    // a retry takes it over (2 minutes, docs/reliability.md): its 409s are that wait, not a failure to recover.
    const heldKeys = new Set(driver.answers.filter((a) => a.kind === 'send' && a.key && lostWithInstance(a)).map((a) => a.key));
    const late = driver.answers.filter((a) => a.at > answersBack && !ok(a) && !(a.kind === 'send' && a.status === 409 && heldKeys.has(a.key)));
    const lastBad = Math.max(window.end, ...driver.answers.filter((a) => !ok(a)).map((a) => a.at));
    const after = driver.answers.filter((a) => a.at > answersBack);
    check(after.length > 0, 'no request ran after the recovery bound: the load stopped too early');
    check(late.length === 0, `${late.length} of ${after.length} answers after the bound still failed: ${count(late)}`);
    const degraded = driver.answers.filter((a) => a.at >= window.start && a.at <= window.end && !ok(a)).length;
    const held = after.filter((a) => !ok(a)).length;
    return `last failed answer ${((lastBad - window.end) / 1000).toFixed(1)} s after the fault ended; ${degraded} degraded answers during it; ${after.length} answers after the bound, all 2xx${held ? ` but ${held} 409s of keys held by a dead attempt` : ''}`;
  });

  await h.step('every webhook acknowledged with 200 is stored exactly once, and processed', async () => {
    const ids = [...driver.acked.keys()];
    check(ids.length > 0, 'no webhook was acknowledged');
    const read = () => stack.pg.query<{ external_id: string; n: number }>('select external_id, count(*)::int as n from messages where number_id = $1 and external_id = any($2) group by 1', [clinic.numberId, ids]);
    const rows = await settle(`the ${ids.length} acknowledged messages to be stored`, read, (r) => r.length === ids.length, untilRecovered());
    const stored = new Set(rows.map((r) => r.external_id));
    const missing = ids.filter((id) => !stored.has(id));
    const twice = rows.filter((r) => r.n !== 1);
    check(missing.length === 0, `${missing.length} of ${ids.length} acknowledged messages are not stored (lost): ${missing.slice(0, 3).join(', ')}`);
    check(twice.length === 0, `${twice.length} messages stored more than once`);
    const unprocessed = () => stack.pg.query<{ n: number }>('select count(*)::int as n from integration_webhook_events where processed_at is null');
    const [pending] = await settle('every delivery processed', unprocessed, (r) => r[0]?.n === 0, untilRecovered());
    if (pending?.n !== 0) {
      const rows = await stack.pg.query<{ external_id: string; at: number }>('select external_id, (extract(epoch from received_at) * 1000)::float8 as at from integration_webhook_events where processed_at is null order by received_at limit 5');
      const when = rows.map((r) => `${r.external_id} stored ${((r.at - window.start) / 1000).toFixed(1)} s after the fault began`).join('; ');
      check(false, `${pending?.n} stored deliveries were never processed: ${when}`);
    }
    return `${ids.length} acknowledged (${driver.duplicatesSent.length} duplicates re-sent), each stored once; every delivery processed`;
  });

  await h.step('every accepted send reached Evolution exactly once and ended sent; nothing sent twice', async () => {
    const outbound = await stack.pg.query<{ external_id: string }>("select external_id from messages where number_id = $1 and direction = 'outbound' and external_id is not null", [clinic.numberId]);
    const fakeIds = new Map<string, number>();
    for (const s of stack.evo.sent) fakeIds.set(s.externalId, (fakeIds.get(s.externalId) ?? 0) + 1);
    const unknown = outbound.filter((m) => !fakeIds.has(m.external_id));
    check(unknown.length === 0, `${unknown.length} outbound messages carry an id the gateway never gave`);
    const noDoubles = async () => {
      const doubled = await sendsPerMessage(stack, clinic.numberId);
      check(doubled.length === 0, `${doubled.length} messages reached Evolution more than once (or without being stored): ${doubled.slice(0, 3).map(([k, n]) => `${n}x ${k}`).join(' | ')}`);
    };
    if (!driver.sendsLoad) {
      await noDoubles();
      return `no member sends in this fault; ${outbound.length} outbound messages (the assistant's), each sent once by the gateway`;
    }
    check(driver.sends.length > 0, `no send was accepted (${driver.refusedSends.length} refused: ${driver.refusedSends.slice(0, 2).join(' | ')})`);
    const ids = driver.sends.map((s) => s.messageId);
    const read = () => stack.pg.query<{ id: string; status: string; external_id: string | null; error: string | null; sending: boolean; send_attempt: number }>('select id, status, external_id, error, sending_at is not null as sending, send_attempt from messages where id = any($1)', [ids]);
    const rows = await settle(`the ${ids.length} sends to be sent`, read, (r) => r.length === ids.length && r.every((m) => SENT_STATUSES.includes(m.status) && m.external_id), untilRecovered());
    const byStatus = new Map<string, number>();
    for (const r of rows) {
      const label = `${r.status}${r.error ? ` (${r.error})` : ''}${r.sending ? ' (claimed by a send job)' : ''}`;
      byStatus.set(label, (byStatus.get(label) ?? 0) + 1);
    }
    // A send the outage cut on its socket ends sent too: looked up on the gateway once it is back.
    const notSent = rows.filter((r) => !SENT_STATUSES.includes(r.status) || !r.external_id);
    const received = (text: string) => stack.evo.sent.filter((s) => s.request.text === text).length;
    const lost = driver.sends.filter((s) => received(s.text) === 0);
    const statuses = [...byStatus].map(([st, n]) => `${st}: ${n}`).join(', ');
    check(rows.length === ids.length, `${ids.length - rows.length} accepted sends are not in the database`);
    await noDoubles();
    check(lost.length === 0 && notSent.length === 0, `${lost.length} of ${ids.length} accepted sends never reached Evolution; statuses: ${statuses}`);
    const resent = rows.filter((r) => r.send_attempt > 1).length;
    return `${ids.length} accepted sends, each received once by the fake and sent (${stack.evo.sent.length} sends in all, none twice); ${statuses}${resent ? `; ${resent} sent again after the gateway's store showed them absent` : ''}`;
  });

  await h.step('outbox drained: no delivery left or dead', async () => {
    const left = async () => (await stack.pg.query<{ waiting: number; dead: number }>('select count(*) filter (where failed_at is null)::int as waiting, count(*) filter (where failed_at is not null)::int as dead from outbox_deliveries'))[0] as { waiting: number; dead: number };
    const state = await settle('the outbox to drain', left, (r) => r.waiting === 0, untilRecovered());
    if (state.waiting > 0 || state.dead > 0) {
      const rows = await stack.pg.query<{ subscriber: string; name: string; attempts: number; last_error: string | null }>('select d.subscriber, o.name, d.attempts, d.last_error from outbox_deliveries d join outbox o on o.id = d.event_id order by d.event_id limit 3');
      check(false, `outbox_deliveries: ${state.waiting} waiting, ${state.dead} dead: ${rows.map((r) => `${r.subscriber} ${r.name} (${r.attempts} attempts${r.last_error ? `, ${r.last_error.slice(0, 80)}` : ''})`).join(' | ')}`);
    }
    const [events] = await stack.pg.query<{ n: number }>('select count(*)::int as n from outbox');
    return `${events?.n ?? 0} events, every subscriber's delivery done`;
  });

  await h.step('the socket is connected after the fault and got message:new for what came after', async () => {
    await waitFor('the socket to be connected', async () => driver.socketConnected || undefined, untilRecovered()).catch(() => undefined);
    check(driver.socketConnected, `the socket is not connected (${driver.socketConnects.length} connects, ${driver.socketDisconnects.length} disconnects)`);
    const since = Math.max(...driver.socketConnects) + 1000;
    const later = [...driver.acked].filter(([, m]) => m.at > since).map(([id]) => id);
    const rows = later.length ? await stack.pg.query<{ id: string }>('select id from messages where number_id = $1 and external_id = any($2)', [clinic.numberId, later]) : [];
    const expected = [...rows.map((r) => r.id), ...driver.sends.filter((s) => s.at > since).map((s) => s.messageId)];
    check(expected.length > 0, 'no message was stored after the socket last connected');
    await sleep(1000);
    const missing = await waitFor('the events', async () => {
      const m = expected.filter((id) => !driver.socketEvents.has(id));
      return m.length === 0 ? m : undefined;
    }, 10_000).catch(() => expected.filter((id) => !driver.socketEvents.has(id)));
    check(missing.length === 0, `${missing.length} of ${expected.length} messages stored after the last (re)connect gave no message:new`);
    return `${driver.socketConnects.length - 1} reconnects; all ${expected.length} messages stored after the last one reached the socket`;
  });
}
