// Steps 4 and 5: two instances on one database and one Redis, nginx balancing between them.
import type { Socket } from 'socket.io-client';
import { check, sleep } from './harness.js';
import { Client } from './client.js';
import type { Instance } from './instance.js';
import { describe } from './single.js';

export async function sharedSession(viaNginx: Client, a: Instance, b: Instance): Promise<string> {
  const upstreams = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const me = await viaNginx.request('GET', '/api/auth/me');
    check(me.status === 200, `me through nginx (request ${i + 1}): ${describe(me)}`);
    upstreams.add(me.upstream);
  }
  check(upstreams.has(`127.0.0.1:${a.port}`) && upstreams.has(`127.0.0.1:${b.port}`), `nginx did not use both instances: ${[...upstreams].join(', ')}`);
  for (const instance of [a, b]) {
    const me = await viaNginx.at(instance.url).request('GET', '/api/auth/me');
    check(me.status === 200, `the session does not work on ${instance.name} directly: ${describe(me)}`);
  }
  return `one session cookie answered on both instances (${[...upstreams].join(', ')})`;
}

/**
 * Clinic changes written alternately on A and B reach a socket on A once each and in order: both
 * instances relay the one outbox (claims with SKIP LOCKED, order kept per aggregate).
 */
export async function eventsAcrossInstances(user: Client, a: Instance, b: Instance, socket: Socket): Promise<string> {
  const seen: string[] = [];
  const onUpdate = (p: { name: string }) => void seen.push(p.name);
  socket.on('clinic:updated', onUpdate);
  const names = Array.from({ length: 10 }, (_, i) => `Clínica do ensaio ${i + 1}`);
  for (const [i, name] of names.entries()) {
    const reply = await user.at(i % 2 === 0 ? a.url : b.url).request('PATCH', '/api/clinic', { json: { name } });
    check(reply.status === 200, `PATCH /api/clinic on ${i % 2 === 0 ? a.name : b.name}: ${describe(reply)}`);
  }
  const deadline = Date.now() + 5000;
  while (seen.length < names.length && Date.now() < deadline) await sleep(50);
  await sleep(500); // a duplicate would have arrived by now
  socket.off('clinic:updated', onUpdate);
  check(JSON.stringify(seen) === JSON.stringify(names), `clinic:updated on A: ${JSON.stringify(seen)}, expected each of the 10 names once, in order`);
  return `10 clinic changes written alternately on A and B reached a socket on A once each, in order`;
}

export async function rateLimitAcrossInstances(nginxUrl: string, origin: string, email: string, limit: number): Promise<string> {
  const client = new Client(nginxUrl, origin);
  const upstreams = new Set<string>();
  for (let i = 1; i <= limit; i++) {
    const reply = await client.request('POST', '/api/auth/login', { json: { email, password: 'senha-errada-123' } });
    check(reply.status === 401, `login attempt ${i} of ${limit} should be 401: ${describe(reply)}`);
    upstreams.add(reply.upstream);
  }
  check(upstreams.size === 2, `the ${limit} attempts did not reach both instances: ${[...upstreams].join(', ')}`);
  const blocked = await client.request('POST', '/api/auth/login', { json: { email, password: 'senha-errada-123' } });
  check(blocked.status === 429, `attempt ${limit + 1} should be 429 (limit counted across instances): ${describe(blocked)}`);
  return `${limit} failed logins spread over both instances, attempt ${limit + 1} answered 429 by ${blocked.upstream}`;
}

/** Every run of the repeatable job, from both instances' logs; each scheduled run must appear once. */
export function repeatableJobRuns(instances: Instance[], since: number) {
  const runs = instances.flatMap((instance) =>
    instance
      .logs()
      .filter((l) => l.msg === 'expired tokens removed' && typeof l.jobId === 'string' && (l.time as number) >= since)
      .map((l) => ({ instance: instance.name, jobId: l.jobId as string, time: l.time as number })),
  );
  const ids = runs.map((r) => r.jobId);
  const duplicates = ids.filter((id, i) => ids.indexOf(id) !== i);
  return { runs, duplicates };
}

export async function checkRepeatableJob(instances: Instance[], since: number, everyMs: number): Promise<string> {
  const minimumRuns = 3;
  const deadline = Date.now() + everyMs * (minimumRuns + 3);
  let result = repeatableJobRuns(instances, since);
  while (result.runs.length < minimumRuns && Date.now() < deadline) {
    await sleep(500);
    result = repeatableJobRuns(instances, since);
  }
  check(result.runs.length >= minimumRuns, `tokens.cleanup ran ${result.runs.length} times in ${Date.now() - since} ms (every ${everyMs} ms)`);
  check(result.duplicates.length === 0, `scheduled runs executed twice: ${result.duplicates.join(', ')}`);
  const windowMs = Math.max(...result.runs.map((r) => r.time)) - since;
  const ceiling = Math.floor(windowMs / everyMs) + 2;
  check(result.runs.length <= ceiling, `tokens.cleanup ran ${result.runs.length} times in ${windowMs} ms; once per cluster allows at most ${ceiling}`);
  const perInstance = instances.map((i) => `${i.name}: ${result.runs.filter((r) => r.instance === i.name).length}`).join(', ');
  return `${result.runs.length} scheduled runs (every ${everyMs} ms), each job id once across the cluster (${perInstance})`;
}

export interface LoadResult {
  sent: number;
  failures: string[];
  upstreams: Map<string, number>;
}

/** Bounded load through nginx: `workers` loops of GET /api/auth/me until `until` resolves (or maxRequests). */
export async function loadUntil(client: Client, workers: number, until: Promise<unknown>, maxRequests: number): Promise<LoadResult> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const result: LoadResult = { sent: 0, failures: [], upstreams: new Map() };
  const loop = async () => {
    while (!done && result.sent < maxRequests) {
      result.sent++;
      try {
        const reply = await client.request('GET', '/api/auth/me');
        if (reply.status !== 200) result.failures.push(describe(reply));
        result.upstreams.set(reply.upstream, (result.upstreams.get(reply.upstream) ?? 0) + 1);
      } catch (err) {
        result.failures.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
  return result;
}
