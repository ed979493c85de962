// What must hold after the load, read from the database and the fakes once the queues drained:
// every acknowledged inbound message stored exactly once; every accepted send handed to the
// gateway exactly once; no professional booked twice for the same time, each raced slot won at
// most once; every Google change announced by a push stored as a busy block.
import postgres from 'postgres';
import type { InboundLedger } from './inbound.js';
import type { Stack } from './stack.js';
import type { UserLedger } from './users.js';

export interface Invariants {
  inboundAcked: number;
  inboundLost: number;
  inboundDuplicated: number;
  sendsAccepted: number;
  sendsLost: number;
  sendsDuplicated: number;
  /** Sends the app itself marked failed or left unconfirmed (the gateway never failed here). */
  sendsNotSent: number;
  doubleBookings: number;
  races: number;
  racesWonTwice: number;
  calendarEventsMissing: number;
  /** Seconds the queues took to drain after the load stopped. */
  drainSeconds: number;
  /** False when the timeout passed first: "lost" then includes what was still queued. */
  drained: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `done` until it is true or `timeoutMs` passes; returns whether it became true. */
async function until(done: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(500);
  }
  return done();
}

export async function checkInvariants(stack: Stack, users: UserLedger, inbound: InboundLedger, timeoutMs = 180_000): Promise<Invariants> {
  const sql = postgres(stack.databaseUrl, { max: 2, onnotice: () => {} });
  const t0 = Date.now();
  try {
    const sentTexts = () => {
      const counts = new Map<string, number>();
      for (const s of stack.evolution.sent) {
        const text = String(s.request.text ?? '');
        counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      return counts;
    };
    const drained = await until(async () => {
      const [row] = await sql`select count(*)::int as n from integration_webhook_events where processed_at is null`;
      if ((row?.n ?? 1) > 0) return false;
      const sent = sentTexts();
      return [...users.sends.keys()].every((text) => sent.has(text));
    }, timeoutMs);
    const busyWanted = [...inbound.calendarEvents.values()].reduce((a, b) => a + b, 0);
    const busyStored = async () => {
      const [row] = await sql`select count(*)::int as n from google_calendar_busy`;
      return row?.n ?? 0;
    };
    const synced = await until(async () => (await busyStored()) >= busyWanted, Math.max(10_000, timeoutMs - (Date.now() - t0)));
    const drainSeconds = (Date.now() - t0) / 1000;

    let inboundAcked = 0;
    let inboundLost = 0;
    let inboundDuplicated = 0;
    for (const [numberId, ids] of inbound.acked) {
      const list = [...ids];
      inboundAcked += list.length;
      const rows = await sql`select external_id, count(*)::int as n from messages where number_id = ${numberId} and direction = 'inbound' and external_id = any(${list}) group by external_id`;
      inboundLost += list.length - rows.length;
      inboundDuplicated += rows.filter((r) => r.n > 1).length;
    }

    const sent = sentTexts();
    const texts = [...users.sends.keys()];
    const sendsLost = texts.filter((t) => !sent.has(t)).length;
    const sendsDuplicated = texts.filter((t) => (sent.get(t) ?? 0) > 1).length;
    const ids = [...users.sends.values()];
    const [notSent] = ids.length ? await sql`select count(*)::int as n from messages where id = any(${ids}) and status in ('pending', 'failed', 'unconfirmed', 'error')` : [{ n: 0 }];

    const [doubles] = await sql`
      select count(*)::int as n from appointments a join appointments b
        on a.professional_id = b.professional_id and a.id < b.id and a.starts_at < b.ends_at and b.starts_at < a.ends_at
      where a.status not in ('cancelled', 'no_show') and b.status not in ('cancelled', 'no_show') and not a.overbooked and not b.overbooked`;

    return {
      inboundAcked,
      inboundLost,
      inboundDuplicated,
      sendsAccepted: texts.length,
      sendsLost,
      sendsDuplicated,
      sendsNotSent: notSent?.n ?? 0,
      doubleBookings: doubles?.n ?? 0,
      races: users.races.length,
      racesWonTwice: users.races.filter((r) => r.winners > 1).length,
      calendarEventsMissing: Math.max(0, busyWanted - (await busyStored())),
      drainSeconds,
      drained: drained && synced,
    };
  } finally {
    await sql.end();
  }
}
