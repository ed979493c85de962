// What reaches the app without a user: patients' WhatsApp messages and the gateway's status
// updates of the clinic's replies (Evolution webhooks, signed as the fake signs them: a JWT with
// the number's jwt_key), a share of them delivered twice as Evolution does on retries, and Google
// Calendar push notifications after the professional changes something in Google.
import { randomBytes } from 'node:crypto';
import type { Seeded, SeededClinic } from './seed.js';
import type { Stack } from './stack.js';
import type { LoadStats } from './stats.js';

export interface InboundOptions {
  /** Patients' messages per WhatsApp number per minute (a busy clinic's reception: a few a minute). */
  messagesPerNumberPerMinute?: number;
  /** Share of webhooks delivered a second time (Evolution retries). */
  duplicates?: number;
  /** A Google Calendar change (and its push) per calendar every this many minutes. */
  pushEveryMinutes?: number;
}

export interface InboundLedger {
  /** External ids of inbound messages the app acknowledged (200), per number id. */
  acked: Map<string, Set<string>>;
  messages: number;
  duplicatesSent: number;
  statuses: number;
  pushes: number;
  /** Events added to each fake calendar (pushes announce them). */
  calendarEvents: Map<string, number>;
}

const PHRASES = ['Oi, queria marcar uma consulta', 'Bom dia! Vocês atendem Unimed?', 'Preciso remarcar minha consulta de amanhã', 'Qual o endereço da clínica?', 'Obrigada!', 'Pode ser às 14h?'];
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

export function startInbound(stack: Stack, seeded: Seeded, stats: LoadStats, opts: InboundOptions = {}) {
  const perMinute = opts.messagesPerNumberPerMinute ?? 3;
  const duplicates = opts.duplicates ?? 0.05;
  const pushEvery = opts.pushEveryMinutes ?? 2;
  const ledger: InboundLedger = { acked: new Map(), messages: 0, duplicatesSent: 0, statuses: 0, pushes: 0, calendarEvents: new Map() };
  const inFlight = new Set<Promise<void>>();
  const byInstance = new Map(seeded.clinics.map((c) => [c.instanceName, c]));
  let seenSends = 0;
  let seq = 0;

  const track = (p: Promise<void>) => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  /** One webhook, timed; `twice` also delivers it again (a retry of an acknowledged delivery). */
  const deliver = (clinic: SeededClinic, event: string, data: Record<string, unknown>, onAck?: () => void) =>
    track(
      (async () => {
        const copies = Math.random() < duplicates ? 2 : 1;
        if (copies === 2) ledger.duplicatesSent++;
        for (let i = 0; i < copies; i++) {
          const t0 = performance.now();
          try {
            const d = await stack.evolution.deliver(clinic.instanceName, event, data, { origin: stack.url });
            stats.record(`webhook ${event}`, performance.now() - t0, d.status, [], d.status >= 300 ? d.body : '');
            if (d.status === 200) onAck?.();
          } catch (err) {
            stats.record(`webhook ${event}`, performance.now() - t0, 'error', [], (err as Error).message);
          }
        }
      })(),
    );

  const patientMessage = (clinic: SeededClinic) => {
    const id = `3A${(seq++).toString(16).toUpperCase().padStart(6, '0')}${randomBytes(7).toString('hex').toUpperCase()}`;
    const remoteJid = pick(clinic.patientJids);
    ledger.messages++;
    deliver(
      clinic,
      'messages.upsert',
      { key: { remoteJid, fromMe: false, id }, pushName: 'Paciente', status: 'DELIVERY_ACK', message: { conversation: pick(PHRASES) }, messageType: 'conversation', messageTimestamp: Math.floor(Date.now() / 1000), source: 'android' },
      () => {
        const set = ledger.acked.get(clinic.numberId) ?? new Set<string>();
        set.add(id);
        ledger.acked.set(clinic.numberId, set);
      },
    );
  };

  /** The phone got, then read, each reply the gateway sent. */
  const statusUpdates = () => {
    const sent = stack.evolution.sent;
    for (; seenSends < sent.length; seenSends++) {
      const record = sent[seenSends];
      const clinic = record && byInstance.get(record.instance);
      if (!record || !clinic) continue;
      const key = record.record.key as { remoteJid: string; id: string };
      for (const [status, afterMs] of [['DELIVERY_ACK', 1000], ['READ', 8000]] as const) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          ledger.statuses++;
          deliver(clinic, 'messages.update', { keyId: key.id, remoteJid: key.remoteJid, fromMe: true, status, instanceId: clinic.instanceName, messageId: randomBytes(12).toString('hex') });
        }, afterMs);
        timers.add(timer);
      }
    }
  };

  const googleChange = (clinic: SeededClinic) => {
    const start = new Date(Date.now() + (2 + Math.floor(Math.random() * 20)) * 86_400_000);
    start.setUTCHours(12 + Math.floor(Math.random() * 8), 0, 0, 0);
    stack.google.addEvent(clinic.calendarId, { summary: 'Compromisso pessoal', start: { dateTime: start.toISOString() }, end: { dateTime: new Date(start.getTime() + 3600_000).toISOString() } });
    ledger.calendarEvents.set(clinic.calendarId, (ledger.calendarEvents.get(clinic.calendarId) ?? 0) + 1);
    track(
      (async () => {
        const t0 = performance.now();
        try {
          const d = await stack.google.notify(clinic.channelId, 'exists');
          stats.record('webhook google push', performance.now() - t0, d.status, [], d.status >= 300 ? JSON.stringify(d.body) : '');
          ledger.pushes++;
        } catch (err) {
          stats.record('webhook google push', performance.now() - t0, 'error', [], (err as Error).message);
        }
      })(),
    );
  };

  const timers = new Set<NodeJS.Timeout>();
  const tick = setInterval(() => {
    for (const clinic of seeded.clinics) {
      if (Math.random() < perMinute / 60) patientMessage(clinic);
      if (Math.random() < 1 / (pushEvery * 60)) googleChange(clinic);
    }
    statusUpdates();
  }, 1000);

  return {
    ledger,
    /** Patients write first: a few messages per number so the inbox has conversations to answer. */
    async prime(perNumber: number) {
      for (let i = 0; i < perNumber; i++) for (const clinic of seeded.clinics) patientMessage(clinic);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    /** Stops generating; waits for the deliveries in flight (status updates already scheduled are dropped). */
    async stop() {
      clearInterval(tick);
      for (const t of timers) clearTimeout(t);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
