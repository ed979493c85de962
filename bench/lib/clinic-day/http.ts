// A browser-like HTTP client per simulated user: its own keep-alive agent with at most two
// connections (a browser holds a few per origin; a shared pool would make 1,000 users look like
// a handful of connections), the session cookie, the web app's Origin on every request, and
// X-Forwarded-Proto: https as the ALB adds it (the session cookie is Secure).
import { Agent, request } from 'node:http';
import type { LoadStats } from './stats.js';

export const FORWARDED = { 'x-forwarded-proto': 'https' };

export interface Answer {
  status: number;
  body: unknown;
}

export class UserHttp {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  cookie = '';

  constructor(
    readonly base: string,
    readonly origin: string,
    /** Where answers are recorded (the ramp's, then the steady phase's). */
    public stats: LoadStats,
  ) {}

  /**
   * One request, timed and recorded under `route` (the route template, not the URL). Statuses in
   * `expected` (a 409 for a slot just taken) are counted apart, not as failures. Never throws: a
   * refused connection is recorded as `error`, status 0.
   */
  async call(route: string, method: string, path: string, json?: unknown, opts: { expected?: readonly number[]; headers?: Record<string, string> } = {}): Promise<Answer> {
    const t0 = performance.now();
    try {
      const answer = await this.send(method, path, json, opts.headers ?? {});
      this.stats.record(route, performance.now() - t0, answer.status, opts.expected, answer.status >= 300 ? JSON.stringify(answer.body) : '');
      return answer;
    } catch (err) {
      this.stats.record(route, performance.now() - t0, 'error', [], (err as Error).message);
      return { status: 0, body: undefined };
    }
  }

  private send(method: string, path: string, json: unknown, extra: Record<string, string>): Promise<Answer> {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const headers: Record<string, string> = { ...FORWARDED, origin: this.origin, accept: 'application/json', ...extra };
    if (this.cookie) headers.cookie = this.cookie;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = request(`${this.base}${path}`, { method, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const cookie = res.headers['set-cookie']?.find((c) => c.startsWith('opb.sid='));
          if (cookie) this.cookie = cookie.split(';')[0] ?? '';
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // an nginx error page: kept as text for the report
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', reject);
      req.end(body);
    });
  }

  close() {
    this.agent.destroy();
  }
}
