// The simulated staff: each signs in once, holds a Socket.IO connection as the web app does, then
// works through a mix of the day's actions with think time between them (exponential, so users
// do not march in step). Rates are per user per minute.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { io, type Socket } from 'socket.io-client';
import { FORWARDED, UserHttp } from './http.js';
import { BENCH_PASSWORD, type Seeded, type SeededUser } from './seed.js';
import { ORIGIN } from './stack.js';
import type { LoadStats } from './stats.js';

/** What a receptionist or professional does in a minute of a busy day. */
export const MIX_PER_MINUTE = {
  week: 2, // the agenda's week view of a professional
  availability: 1, // free slots before booking
  search: 1.5, // patient search
  book: 0.4, // a booking; one in seven raced by a colleague for the same slot
  status: 0.3, // confirm or cancel one of the user's bookings
  inbox: 1.5, // the WhatsApp inbox list
  send: 0.4, // a reply to a patient
  knowledge: 0.2, // a knowledge-base search
} as const;
type Action = keyof typeof MIX_PER_MINUTE;
const ACTIONS = Object.keys(MIX_PER_MINUTE) as Action[];
const PER_MINUTE = ACTIONS.reduce((sum, a) => sum + MIX_PER_MINUTE[a], 0);
const RACE_SHARE = 1 / 7;
const SEARCHES = ['silva', 'maria', 'joão', 'souza', 'conceicao', 'araújo', 'ana lima', 'pereira', 'íris', 'bruna'];
const QUESTIONS = ['Quais convênios vocês aceitam?', 'Qual o horário de funcionamento?', 'Como faço para cancelar?', 'O que levar na primeira consulta?'];

/** What the load promised the invariants: sends accepted, booking races and their winners. */
export interface UserLedger {
  /** Text of every send answered 201, with the message id the app gave it. */
  sends: Map<string, string>;
  races: { winners: number }[];
  socketErrors: number;
  socketEvents: number;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

function chooseAction(): Action {
  let r = Math.random() * PER_MINUTE;
  for (const a of ACTIONS) {
    r -= MIX_PER_MINUTE[a];
    if (r <= 0) return a;
  }
  return 'week';
}

/** A free-looking slot 15-60 days ahead, a weekday, 08:00-17:30 in São Paulo, on the half hour. */
function futureSlot(): string {
  const d = new Date(Date.now() + (15 + Math.floor(Math.random() * 45)) * 86_400_000);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6) d.setUTCDate(d.getUTCDate() + 1);
  const minutes = 8 * 60 + 30 * Math.floor(Math.random() * 20);
  return `${d.toISOString().slice(0, 10)}T${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}:00-03:00`;
}

function thisWeek() {
  const d = new Date(Date.now() - 3 * 3600_000);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  const from = `${d.toISOString().slice(0, 10)}T00:00:00-03:00`;
  const to = `${new Date(d.getTime() + 7 * 86_400_000).toISOString().slice(0, 10)}T00:00:00-03:00`;
  return `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
}

export class VirtualUser {
  readonly http: UserHttp;
  socket?: Socket;
  private readonly booked: { id: string; status: string }[] = [];
  private conversations: string[] = [];

  constructor(
    readonly account: SeededUser,
    base: string,
    stats: LoadStats,
    private readonly ledger: UserLedger,
    private readonly socketUrl: string,
  ) {
    this.http = new UserHttp(base, ORIGIN, stats);
  }

  /** Signs in and opens the socket; false when either failed (recorded). */
  async start(): Promise<boolean> {
    const login = await this.http.call('POST /api/auth/login', 'POST', '/api/auth/login', { email: this.account.email, password: BENCH_PASSWORD });
    if (login.status !== 200) return false;
    const socket = io(this.socketUrl, { transports: ['websocket'], reconnection: true, extraHeaders: { cookie: this.http.cookie, origin: ORIGIN, ...FORWARDED } });
    this.socket = socket;
    socket.onAny(() => this.ledger.socketEvents++);
    socket.on('connect_error', () => this.ledger.socketErrors++);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 30_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.on('disconnect', (reason) => {
          if (reason !== 'io client disconnect') this.ledger.socketErrors++;
        });
        resolve(true);
      });
    });
  }

  /** Actions with think time until `signal` aborts. */
  async work(signal: AbortSignal, colleague: () => VirtualUser | undefined) {
    const meanMs = 60_000 / PER_MINUTE;
    await sleep(Math.random() * meanMs, signal);
    while (!signal.aborted) {
      await this.act(chooseAction(), colleague);
      await sleep(-Math.log(1 - Math.random()) * meanMs, signal);
    }
  }

  private get clinic() {
    return this.account.clinic;
  }

  async act(action: Action, colleague: () => VirtualUser | undefined): Promise<void> {
    const clinic = this.clinic;
    const professional = pick(clinic.professionalIds);
    const http = this.http;
    switch (action) {
      case 'week':
        await http.call('GET /api/appointments', 'GET', `/api/appointments?professionalId=${professional}&${thisWeek()}`, undefined);
        return;
      case 'availability': {
        const from = new Date(Date.now() + 15 * 86_400_000);
        const to = new Date(from.getTime() + 7 * 86_400_000);
        await http.call('GET /api/availability', 'GET', `/api/availability?professionalId=${professional}&from=${from.toISOString()}&to=${to.toISOString()}&durationMinutes=30`, undefined);
        return;
      }
      case 'search':
        await http.call('GET /api/contacts?search', 'GET', `/api/contacts?search=${encodeURIComponent(pick(SEARCHES))}&limit=50`, undefined);
        return;
      case 'book': {
        const body = { contactId: pick(clinic.contactIds), professionalId: professional, startsAt: futureSlot(), durationMinutes: 30 };
        const rival = Math.random() < RACE_SHARE ? colleague() : undefined;
        const attempts = [this, ...(rival ? [rival] : [])].map((u) =>
          u.http.call('POST /api/appointments', 'POST', '/api/appointments', body, { expected: [409] }).then((a) => {
            if (a.status === 201) u.booked.push({ id: (a.body as { id: string }).id, status: 'scheduled' });
            return a.status;
          }),
        );
        const statuses = await Promise.all(attempts);
        if (rival) this.ledger.races.push({ winners: statuses.filter((s) => s === 201).length });
        return;
      }
      case 'status': {
        const mine = this.booked.find((b) => b.status === 'scheduled' || b.status === 'confirmed');
        if (!mine) return this.act('week', colleague);
        const next = mine.status === 'scheduled' ? { status: 'confirmed' } : { status: 'cancelled', reason: 'Paciente pediu para remarcar' };
        const a = await http.call('POST /api/appointments/:id/status', 'POST', `/api/appointments/${mine.id}/status`, next);
        if (a.status === 200) mine.status = next.status;
        return;
      }
      case 'inbox': {
        const a = await http.call('GET /api/conversations', 'GET', '/api/conversations?limit=50', undefined);
        if (a.status === 200) this.conversations = ((a.body as { items: { id: string }[] }).items ?? []).map((c) => c.id);
        return;
      }
      case 'send': {
        if (this.conversations.length === 0) return this.act('inbox', colleague);
        const text = `Olá! Sua consulta está confirmada. Qualquer dúvida, estamos à disposição. [ref ${randomUUID()}]`;
        const a = await http.call('POST /api/conversations/:id/messages', 'POST', `/api/conversations/${pick(this.conversations)}/messages`, { text }, { headers: { 'idempotency-key': randomUUID() } });
        if (a.status === 201) this.ledger.sends.set(text, (a.body as { id: string }).id);
        return;
      }
      case 'knowledge':
        await http.call('POST /api/rag/search', 'POST', '/api/rag/search', { query: pick(QUESTIONS), knowledgeBaseIds: [clinic.knowledgeBaseId], k: 5 });
        return;
    }
  }

  close() {
    this.socket?.disconnect();
    this.http.close();
  }
}

/** Users started one after another over `rampSeconds` (a fleet of browsers opening in the morning), then working until stopped. */
export function startUsers(seeded: Seeded, opts: { count: number; base: string; rampSeconds: number; rampStats: LoadStats; stats: LoadStats }) {
  const ledger: UserLedger = { sends: new Map(), races: [], socketErrors: 0, socketEvents: 0 };
  const abort = new AbortController();
  // Every user waits on this one signal.
  setMaxListeners(0, abort.signal);
  const users: VirtualUser[] = [];
  const byClinic = new Map<string, VirtualUser[]>();
  const working: Promise<void>[] = [];
  let startFailures = 0;
  const colleagueOf = (user: VirtualUser) => () => {
    const others = (byClinic.get(user.account.clinic.id) ?? []).filter((u) => u !== user);
    return others.length > 0 ? pick(others) : undefined;
  };
  const ramp = (async () => {
    const accounts = seeded.users.slice(0, opts.count);
    const gapMs = (opts.rampSeconds * 1000) / Math.max(1, accounts.length);
    const starting: Promise<void>[] = [];
    for (const account of accounts) {
      if (abort.signal.aborted) break;
      // Logins and socket handshakes are the ramp's; the steady phase records the rest.
      const user = new VirtualUser(account, opts.base, opts.rampStats, ledger, opts.base);
      starting.push(
        user.start().then((ok) => {
          if (!ok) {
            startFailures++;
            return user.close();
          }
          user.http.stats = opts.stats;
          users.push(user);
          byClinic.set(account.clinic.id, [...(byClinic.get(account.clinic.id) ?? []), user]);
          working.push(user.work(abort.signal, colleagueOf(user)));
        }),
      );
      await sleep(gapMs, abort.signal);
    }
    await Promise.all(starting);
  })();
  return {
    ledger,
    ramp,
    get started() {
      return users.length;
    },
    get startFailures() {
      return startFailures;
    },
    /** Stops the users after their current action; closes sockets and connections. */
    async stop() {
      abort.abort();
      await ramp;
      await Promise.all(working);
      for (const user of users) user.close();
    },
  };
}
