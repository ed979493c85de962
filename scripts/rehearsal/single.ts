// Step 3: one instance behind nginx, called as the ALB calls it.
import type { Socket } from 'socket.io-client';
import { check } from './harness.js';
import { Client, nextEvent, type Reply } from './client.js';

export const SLOW_REQUEST_MS = 65_000;
const UPLOAD_BYTES = 20 * 1024 * 1024;

interface Me {
  user: { id: string; email: string };
  clinic: { id: string };
}

export function describe(reply: Reply): string {
  return `${reply.status} ${typeof reply.body === 'string' ? reply.body.slice(0, 300) : JSON.stringify(reply.body)?.slice(0, 300)}`;
}

export async function health(client: Client): Promise<string> {
  const timings: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    const reply = await client.request('GET', '/api/health');
    timings.push(performance.now() - t0);
    check(reply.status === 200 && (reply.body as { status?: string }).status === 'ok', `GET /api/health: ${describe(reply)}`);
  }
  const median = timings.sort((x, y) => x - y)[10] as number;
  // Liveness touches no dependency. This is the client's round trip through nginx on a machine
  // that may be busy (CI runners, shared hosts), so the bound only catches a dependency call with
  // a timeout behind it; on a quiet machine the median is 1-3 ms.
  check(median < 250, `GET /api/health median ${median.toFixed(1)} ms through nginx`);
  return `GET /api/health 200, median ${median.toFixed(1)} ms over 21 calls`;
}

/** Registers a clinic, then signs in from a second, empty cookie jar; returns that signed-in client. */
export async function registerAndLogin(nginxUrl: string, origin: string, email: string, password: string) {
  const first = new Client(nginxUrl, origin);
  const registered = await first.request('POST', '/api/auth/register', {
    json: { clinicName: 'Clínica Ensaio EB', name: 'Dra. Ensaio', email, password },
  });
  check(registered.status === 201, `register: ${describe(registered)}`);
  const cookie = registered.setCookies.find((c) => c.startsWith('opb.sid='));
  check(cookie, 'register set no session cookie (is X-Forwarded-Proto trusted?)');
  for (const attribute of ['Secure', 'HttpOnly', 'SameSite=None']) {
    check(cookie.split(';').some((part) => part.trim().toLowerCase() === attribute.toLowerCase()), `session cookie lacks ${attribute}: ${cookie}`);
  }
  const client = new Client(nginxUrl, origin);
  const login = await client.request('POST', '/api/auth/login', { json: { email, password } });
  check(login.status === 200, `login: ${describe(login)}`);
  const me = await client.request('GET', '/api/auth/me');
  check(me.status === 200 && (me.body as Me).user.email === email, `me after login: ${describe(me)}`);
  return { client, me: me.body as Me, cookie: cookie.split(';').slice(1).join(';').trim() };
}

export async function readiness(client: Client): Promise<string> {
  const reply = await client.request('GET', '/api/health/ready');
  const body = reply.body as { ok?: boolean; mode?: string; checks?: { database?: { kind?: string }; queue?: { kind?: string }; redis?: { ok?: boolean } } };
  check(reply.status === 200 && body.ok === true, `GET /api/health/ready: ${describe(reply)}`);
  check(body.mode === 'production' && body.checks?.database?.kind === 'postgres' && body.checks.queue?.kind === 'bullmq' && body.checks.redis?.ok, `readiness is not on Postgres + Redis + BullMQ: ${describe(reply)}`);
  return `ready: postgres, redis, bullmq`;
}

export async function socketEvent(client: Client, socketUrl: string, pingVia: Client): Promise<{ socket: Socket; by: string }> {
  const socket = await client.socket(socketUrl);
  const transport = (socket.io.engine as { transport?: { name?: string } }).transport?.name;
  check(transport === 'websocket', `socket transport is ${transport}, not websocket`);
  const event = nextEvent<{ at: string; by: string }>(socket, 'test:ping');
  const ping = await pingVia.request('POST', '/api/test/ping');
  check(ping.status === 200, `POST /api/test/ping: ${describe(ping)}`);
  const payload = await event;
  return { socket, by: payload.by };
}

export async function upload(client: Client): Promise<string> {
  const bytes = Buffer.alloc(UPLOAD_BYTES, 0x20);
  bytes.write('%PDF-1.4\n', 0, 'latin1');
  bytes.write('\n%%EOF\n', UPLOAD_BYTES - 7, 'latin1');
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'application/pdf' }), 'exame-ensaio.pdf');
  const t0 = Date.now();
  const reply = await client.request('POST', '/api/files', { form });
  check(reply.status === 201, `20 MB upload: ${describe(reply)}`);
  check((reply.body as { size?: number }).size === UPLOAD_BYTES, `stored size differs: ${describe(reply)}`);
  return `20 MB PDF accepted (201) in ${Date.now() - t0} ms`;
}

/** Starts a request longer than nginx's 60 s defaults; the caller awaits it later. */
export function slowRequest(client: Client): Promise<string> {
  const t0 = Date.now();
  return client.request('GET', `/api/test/slow?ms=${SLOW_REQUEST_MS}`).then((reply) => {
    const took = Date.now() - t0;
    check(reply.status === 200 && (reply.body as { waitedMs?: number }).waitedMs === SLOW_REQUEST_MS, `slow request after ${took} ms: ${describe(reply)}`);
    check(took >= SLOW_REQUEST_MS, `slow request answered too early (${took} ms)`);
    return `GET /api/test/slow?ms=${SLOW_REQUEST_MS} answered 200 after ${(took / 1000).toFixed(1)} s`;
  });
}
