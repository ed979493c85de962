import http, { type IncomingHttpHeaders } from 'node:http';
import { LocalHttpFake } from './local-http-fake.js';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as the sender signed it. */
  raw: string;
  body: { type: string; timestamp: string; clinicId: string; data: Record<string, unknown> };
}

/**
 * An N8N Webhook node on 127.0.0.1: records every request (raw body and headers) and answers the
 * statuses it was told to per path, in order (`respond(path, 500, 500)`, then 200).
 */
export class FakeWebhookReceiver extends LocalHttpFake {
  readonly received: ReceivedWebhook[] = [];
  private readonly scripts = new Map<string, number[]>();
  /** Answer body, so a test can check the excerpt kept. */
  answer = '{"ok":true}';

  protected readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      this.received.push({ path: req.url ?? '/', headers: req.headers, raw, body: JSON.parse(raw) as ReceivedWebhook['body'] });
      res.writeHead(this.scripts.get(req.url ?? '/')?.shift() ?? 200, { 'content-type': 'application/json' });
      res.end(this.answer);
    });
  });

  /** The next answers at `path` (then 200). */
  respond(path: string, ...statuses: number[]) {
    this.scripts.set(path, [...(this.scripts.get(path) ?? []), ...statuses]);
    return this;
  }

  /** Requests for one type (and one subject id inside `data`, when given). */
  of(type: string, where: (data: Record<string, unknown>) => boolean = () => true) {
    return this.received.filter((r) => r.body.type === type && where(r.body.data));
  }

  /** The standardwebhooks headers of a request, as `Webhook.verify` takes them. */
  static signed(r: ReceivedWebhook) {
    return { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
  }
}
