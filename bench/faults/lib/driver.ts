// A modest load during a fault, kept in one place so a fuller load model can replace it: a few
// concurrent loops of signed Evolution webhooks (5 % duplicates, retried until a 200 as Evolution
// retries), sends through POST /conversations/:id/messages with an Idempotency-Key (retried with
// the same key, as a client would), authenticated reads, and one Socket.IO client.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import { sleep } from '../../../scripts/rehearsal/harness.js';
import type { FaultClinic } from './clinic.js';
import type { FaultStack } from './stack.js';

export type AnswerKind = 'webhook' | 'send' | 'read';

export interface Answer {
  kind: AnswerKind;
  at: number;
  target: string;
  /** 0: no HTTP answer (connection refused or cut, or the client's timeout). */
  status: number;
  retryAfter: string | null;
  error?: string;
  /** A send's Idempotency-Key. */
  key?: string;
}

export interface AckedMessage {
  text: string;
  at: number;
}

export interface AcceptedSend {
  key: string;
  conversationId: string;
  text: string;
  messageId: string;
  at: number;
}

const SAMPLE = JSON.parse(readFileSync(new URL('../../../test/fixtures/evolution/webhook.messages.upsert.text.json', import.meta.url), 'utf8')) as { data: Record<string, unknown> };
const REQUEST_TIMEOUT_MS = 20_000;

/** `messages.upsert` data of a patient's text, shaped like the 2.3 sample. */
export function inboundMessage(instance: string, phone: string, id: string, text: string): Record<string, unknown> {
  return {
    ...SAMPLE.data,
    instance,
    key: { remoteJid: `${phone}@s.whatsapp.net`, fromMe: false, id, addressingMode: 'pn' },
    pushName: `Paciente ${phone.slice(-4)}`,
    message: { conversation: text },
    messageType: 'conversation',
    messageTimestamp: Math.floor(Date.now() / 1000),
  };
}

export interface DriverOptions {
  webhookLoops?: number;
  sendLoops?: number;
  readLoops?: number;
  /** Pause between two items of one loop. */
  pauseMs?: number;
}

export class LoadDriver {
  readonly answers: Answer[] = [];
  /** WhatsApp message id -> text, for every webhook the app answered 200. */
  readonly acked = new Map<string, AckedMessage>();
  readonly duplicatesSent: string[] = [];
  readonly sends: AcceptedSend[] = [];
  /** Sends the app refused for good (a 4xx other than the retryable ones): listed, never retried. */
  readonly refusedSends: string[] = [];
  /** message id -> how many `message:new` the socket got for it. */
  readonly socketEvents = new Map<string, number>();
  socketConnects: number[] = [];
  socketDisconnects: number[] = [];
  /** Targets the load balancer no longer sends to (a killed instance), from that time. */
  readonly dead = new Map<string, number>();
  private socket?: Socket;
  private loops: Promise<void>[] = [];
  private stopAt = Infinity;
  private giveUpAt = Infinity;
  private rr = 0;
  private seq = 0;
  private readonly run = randomBytes(3).toString('hex');

  constructor(
    private readonly stack: FaultStack,
    private readonly clinic: FaultClinic,
    private targets: string[],
    private readonly opts: DriverOptions = {},
  ) {}

  /** The load balancer stops sending to `url` (its health check failed). */
  markDead(url: string) {
    this.dead.set(url, Date.now());
    this.targets = this.targets.filter((t) => t !== url);
    if (this.stack.evo.webhookOrigin === url) this.stack.evo.webhookOrigin = this.targets[0];
  }

  addTarget(url: string) {
    if (!this.targets.includes(url)) this.targets.push(url);
  }

  /** The socket connects to `socketUrl` and reconnects by itself; to another instance once its own is out of the balancer. */
  start(socketUrl: string) {
    this.openSocket(socketUrl);
    const { webhookLoops = 2, sendLoops = 1, readLoops = 2 } = this.opts;
    // Array.from calls each loop once: the array holds the running loops.
    const loop = (fn: () => Promise<void>) => async () => {
      while (Date.now() < this.stopAt) {
        await fn();
        await sleep(this.opts.pauseMs ?? 150);
      }
    };
    this.loops = [
      ...Array.from({ length: webhookLoops }, loop(() => this.webhook())),
      ...Array.from({ length: sendLoops }, loop(() => this.send())),
      ...Array.from({ length: readLoops }, loop(() => this.read())),
    ];
  }

  private openSocket(url: string) {
    const socket = io(url, { transports: ['websocket'], reconnection: true, reconnectionDelay: 250, reconnectionDelayMax: 2000, timeout: 5000, extraHeaders: this.clinic.user.headers });
    socket.on('connect', () => this.socketConnects.push(Date.now()));
    socket.on('disconnect', () => {
      this.socketDisconnects.push(Date.now());
      const next = this.targets[0];
      if (this.dead.has(url) && next) {
        socket.close();
        this.openSocket(next);
      }
    });
    socket.on('message:new', (payload: { id: string }) => this.socketEvents.set(payload.id, (this.socketEvents.get(payload.id) ?? 0) + 1));
    this.socket = socket;
  }

  /** Stops starting new items; items in flight keep retrying for up to `graceMs`. */
  async stop(graceMs = 60_000) {
    this.stopAt = Date.now();
    this.giveUpAt = Date.now() + graceMs;
    await Promise.all(this.loops);
  }

  closeSocket() {
    this.socket?.disconnect();
  }

  /** Whether this driver sends messages as a member (a fault may leave that load out). */
  get sendsLoad(): boolean {
    return (this.opts.sendLoops ?? 1) > 0;
  }

  get socketConnected(): boolean {
    return this.socket?.connected ?? false;
  }

  private target(): string {
    const live = this.targets;
    return live[this.rr++ % live.length] as string;
  }

  private record(kind: AnswerKind, target: string, status: number, retryAfter: string | null, error?: string, key?: string) {
    this.answers.push({ kind, at: Date.now(), target, status, retryAfter, error, key });
  }

  /** Retries as the sender would, until `done` answers true or the grace after stop() runs out. */
  private async retrying(attempt: () => Promise<boolean>) {
    let delay = 250;
    while (Date.now() < this.giveUpAt) {
      if (await attempt()) return;
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }

  private async webhook() {
    const duplicateOf = this.acked.size > 0 && Math.random() < 0.05 ? [...this.acked.keys()][Math.floor(Math.random() * this.acked.size)] : undefined;
    const id = duplicateOf ?? `3A${randomBytes(9).toString('hex').toUpperCase()}`;
    const text = duplicateOf ? (this.acked.get(duplicateOf) as AckedMessage).text : `falha ${this.run} entrada ${++this.seq}`;
    if (duplicateOf) this.duplicatesSent.push(id);
    const phone = this.clinic.phones[this.seq % this.clinic.phones.length] as string;
    const data = inboundMessage(this.clinic.instanceName, phone, id, text);
    await this.retrying(async () => {
      const target = this.target();
      try {
        const delivery = await this.stack.evo.deliver(this.clinic.instanceName, 'messages.upsert', data, { origin: target });
        this.record('webhook', target, delivery.status, delivery.retryAfter);
        if (delivery.status !== 200) return false;
        if (!this.acked.has(id)) this.acked.set(id, { text, at: Date.now() });
        return true;
      } catch (err) {
        this.record('webhook', target, 0, null, (err as Error).message);
        return false;
      }
    });
  }

  private async send() {
    const conversationId = this.clinic.conversationIds[this.seq % this.clinic.conversationIds.length] as string;
    const key = randomUUID();
    const text = `falha ${this.run} saída ${++this.seq}`;
    await this.retrying(async () => {
      const target = this.target();
      try {
        const reply = await this.clinic.user.at(target).request('POST', `/api/conversations/${conversationId}/messages`, {
          json: { text },
          headers: { 'idempotency-key': key },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        this.record('send', target, reply.status, reply.headers.get('retry-after'), undefined, key);
        if (reply.status === 201 || reply.status === 200) {
          this.sends.push({ key, conversationId, text, messageId: (reply.body as { id: string }).id, at: Date.now() });
          return true;
        }
        if (reply.status >= 400 && reply.status < 500 && ![409, 429].includes(reply.status)) {
          this.refusedSends.push(`${reply.status} ${JSON.stringify(reply.body)}`);
          return true;
        }
        return false;
      } catch (err) {
        this.record('send', target, 0, null, (err as Error).message, key);
        return false;
      }
    });
  }

  private async read() {
    const target = this.target();
    const path = this.seq % 2 === 0 ? '/api/conversations?limit=20' : '/api/auth/me';
    try {
      const reply = await this.clinic.user.at(target).request('GET', path, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      this.record('read', target, reply.status, reply.headers.get('retry-after'));
    } catch (err) {
      this.record('read', target, 0, null, (err as Error).message);
    }
  }
}
