// The load generator of bench/whatsapp-ingest.ts, in a process of its own so the app's event loop
// (and its CPU figure) holds only the app. The parent sends a run (IPC); this process builds each
// `messages.upsert` body from the sample in TEMPLATE (5 % of them copies of an earlier message id:
// duplicates), each sender writing to one of the numbers (a clinic's each), sends them (an open loop at a
// rate, else autocannon) and answers its result with the count of distinct messages sent so far.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { quantile } from './clinic-day/stats.js';

/** A number's webhook: its path and the `Authorization` its connection's secret signs. */
export interface Target {
  instance: string;
  path: string;
  authorization: string;
}

export interface LoadRun {
  url: string;
  /** Each request to its sender's number; none: every request to `url` (the baseline). */
  targets?: Target[];
  connections: number;
  duration?: number;
  amount?: number;
  /**
   * Open loop at this many requests a second, evenly spaced (a constant rate, as wrk2 sends it), each timed
   * from the moment it was due. Not autocannon's `overallRate`: that sends each connection's share
   * of a second back to back at the start of the second (a burst at full speed, then idle) and
   * corrects for coordinated omission with a 1 ms interval, adding a sample for every ms of each answer.
   */
  overallRate?: number;
}

export interface LoadResult {
  total: number;
  p50: number;
  p99: number;
  max: number;
  failures: string | undefined;
  /** Distinct message ids sent since the start. */
  unique: number;
  duplicates: number;
}

const template = JSON.parse(readFileSync(process.env.TEMPLATE ?? '', 'utf8')) as { data: Record<string, unknown> } & Record<string, unknown>;
const senders = Number(process.env.SENDERS);
const duplicateShare = Number(process.env.DUPLICATES);

let seq = 0;
let duplicates = 0;
const sentIds: string[] = [];
/** The request of message `i` (id `id`): sender i % SENDERS, whose number is fixed. */
const request = (id: string, i: number, targets: Target[]) => {
  const phone = `55119${String(80000000 + (i % senders)).padStart(8, '0')}`;
  const target = targets[(i % senders) % targets.length]!;
  const body = JSON.stringify({
    ...template,
    instance: target.instance,
    apikey: null,
    data: { ...template.data, key: { remoteJid: `${phone}@s.whatsapp.net`, fromMe: false, id }, pushName: `Paciente ${i % senders}`, message: { conversation: `Mensagem de teste ${i}` }, messageTimestamp: Math.floor(Date.now() / 1000) },
  });
  return { path: target.path, authorization: target.authorization, body };
};
const next = (targets: Target[]) => {
  if (sentIds.length > 0 && Math.random() < duplicateShare) {
    duplicates++;
    const id = sentIds[Math.floor(Math.random() * sentIds.length)]!;
    return request(id, Number(id.split('-')[1]), targets);
  }
  const i = seq++;
  const id = `BENCH-${i}-${randomBytes(4).toString('hex').toUpperCase()}`;
  sentIds.push(id);
  return request(id, i, targets);
};

/** The baseline has one route, no signature: any instance name will do. */
const anyTargets: Target[] = [{ instance: 'baseline', path: '', authorization: '' }];

/** `overallRate` requests a second for `duration` s to the targets over at most `connections` keep-alive sockets. */
async function openLoop(run: LoadRun & { overallRate: number; duration: number; targets: Target[] }): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: run.connections });
  const { hostname, port } = new URL(run.url);
  const latencies: number[] = [];
  const failures: string[] = [];
  const send = (due: number) =>
    new Promise<void>((resolve) => {
      const { path, authorization, body } = next(run.targets);
      const req = httpRequest({ agent, hostname, port, method: 'POST', path, headers: { 'content-type': 'application/json', authorization, 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) failures.push(String(res.statusCode));
          latencies.push(performance.now() - due);
          resolve();
        });
      });
      req.on('error', (err) => {
        failures.push(err.message);
        resolve();
      });
      req.end(body);
    });
  const interval = 1000 / run.overallRate;
  const count = Math.round(run.overallRate * run.duration);
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; ) {
    // Every request whose time has come goes now, timed from its due time (a late tick is counted against us).
    while (i < count && start + i * interval <= performance.now()) inFlight.push(send(start + i++ * interval));
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(inFlight);
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const ms = (x: number) => Math.round(x * 10) / 10;
  const result: LoadResult = { total: count, p50: ms(quantile(sorted, 0.5)), p99: ms(quantile(sorted, 0.99)), max: ms(sorted.at(-1) ?? 0), failures: failures.length ? `${failures.length} failed (${[...new Set(failures)].join(', ')})` : undefined, unique: seq, duplicates };
  duplicates = 0;
  return result;
}

process.on('message', (run: LoadRun) => {
  if (run.overallRate && run.duration && run.targets) {
    void openLoop({ ...run, overallRate: run.overallRate, duration: run.duration, targets: run.targets }).then((r) => process.send?.(r));
    return;
  }
  void autocannon({
    url: run.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: run.connections,
    ...(run.duration ? { duration: run.duration } : {}),
    ...(run.amount ? { amount: run.amount } : {}),
    requests: [
      {
        setupRequest: (req) => {
          const { path, authorization, body } = next(run.targets ?? anyTargets);
          return run.targets ? { ...req, path, headers: { ...req.headers, authorization }, body } : { ...req, body };
        },
      },
    ],
  }).then((r) => {
    const failures = r.non2xx || r.errors || r.timeouts ? `${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts` : undefined;
    const result: LoadResult = { total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, failures, unique: seq, duplicates };
    duplicates = 0;
    process.send?.(result);
  });
});
process.send?.('ready');
