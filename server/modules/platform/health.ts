import { count } from 'drizzle-orm';
import { whatsappNumbers } from '../../../shared/schema/index.js';
import { integrationStatus } from '../../config.js';
import type { Infra } from '../../infra/index.js';
import { pingRedis } from '../../infra/redis.js';
import { hasVectorColumn } from '../knowledge/chunks.js';

interface Check {
  ok: boolean;
  ms?: number;
  error?: string;
  configured?: boolean;
}

const TIMEOUT_MS = 2000;

async function check(fn: () => Promise<number>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const ms = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), TIMEOUT_MS);
      }),
    ]);
    return { ok: true, ms };
  } catch (err) {
    return { ok: false, error: (err as Error).message === 'timeout' ? 'timeout' : 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * WhatsApp numbers by state across the cluster: an operator's view, so counts only (no clinic,
 * instance or phone). One grouped count; reported, never a 503 (a clinic's unlinked phone is not
 * this instance's fault).
 */
async function whatsappStates(infra: Infra) {
  const rows = await infra.systemDb
    .select({ state: whatsappNumbers.state, reason: whatsappNumbers.stateReason, n: count() })
    .from(whatsappNumbers)
    .groupBy(whatsappNumbers.state, whatsappNumbers.stateReason);
  const byState: Record<string, number> = {};
  // Why numbers are down (`license_required` on every number says: activate Evolution 2.4).
  const reasons: Record<string, number> = {};
  for (const r of rows) {
    byState[r.state] = (byState[r.state] ?? 0) + r.n;
    if (r.reason && r.state !== 'open') reasons[r.reason] = (reasons[r.reason] ?? 0) + r.n;
  }
  return { numbers: rows.reduce((sum, r) => sum + r.n, 0), byState, reasons };
}

/** Readiness: every dependency answers, with round-trip times; integrations listed as configured or not. */
export async function readiness(infra: Infra, draining: () => boolean) {
  const [database, redis, queue, outbox, whatsapp, vector] = await Promise.all([
    check(() => infra.database.ping()),
    infra.redis ? check(() => pingRedis(infra.redis as NonNullable<Infra['redis']>)) : Promise.resolve<Check>({ ok: true, configured: false }),
    check(() => infra.queue.ping()),
    infra.events.stats().catch(() => null),
    whatsappStates(infra).catch(() => null),
    hasVectorColumn(infra.db).catch(() => null),
  ]);
  const ok = database.ok && redis.ok && queue.ok && !draining();
  return {
    status: draining() ? 'draining' : ok ? 'ok' : 'degraded',
    ok,
    mode: infra.database.kind === 'pglite' ? 'embedded' : 'production',
    checks: { database: { ...database, kind: infra.database.kind }, redis, queue: { ...queue, kind: infra.queue.kind } },
    // Reported, never a 503: the lag is the cluster's, and taking every instance out of the
    // load balancer would not deliver a single event faster.
    outbox: outbox ? { ...outbox, failuresHere: infra.events.failures } : { error: 'unreachable' },
    integrations: integrationStatus(infra.config),
    whatsapp: whatsapp ?? { error: 'unreachable' },
    // Reported, never a 503: without vectors (no pgvector, no provider) knowledge search runs on full text.
    knowledge: { vector, embeddings: infra.ai ? { model: infra.ai.embeddingModel, dimensions: infra.ai.dimensions } : null },
    storage: infra.storage.kind,
    mailer: infra.mailer.kind,
  };
}
