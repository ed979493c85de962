// The load generator of bench/whatsapp-ingest.ts, in a process of its own so the app's event loop
// (and its CPU figure) holds only the app. The parent sends a run (IPC); this process builds each
// `messages.upsert` body from the sample in TEMPLATE (5 % of them copies of an earlier message id:
// duplicates), each sender writing to one of the numbers (a clinic's each), runs autocannon and
// answers its result with the count of distinct messages sent so far.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

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

process.on('message', (run: LoadRun) => {
  void autocannon({
    url: run.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: run.connections,
    ...(run.duration ? { duration: run.duration } : {}),
    ...(run.amount ? { amount: run.amount } : {}),
    ...(run.overallRate ? { overallRate: run.overallRate } : {}),
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
