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

/** Readiness: every dependency answers, with round-trip times; integrations listed as configured or not. */
export async function readiness(infra: Infra, draining: () => boolean) {
  const [database, redis, queue, outbox, vector] = await Promise.all([
    check(() => infra.database.ping()),
    infra.redis ? check(() => pingRedis(infra.redis as NonNullable<Infra['redis']>)) : Promise.resolve<Check>({ ok: true, configured: false }),
    check(() => infra.queue.ping()),
    infra.events.stats().catch(() => null),
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
    // Reported, never a 503: without vectors (no pgvector, no provider) knowledge search runs on full text.
    knowledge: { vector, embeddings: infra.ai ? { model: infra.ai.embeddingModel, dimensions: infra.ai.dimensions } : null },
    storage: infra.storage.kind,
    mailer: infra.mailer.kind,
  };
}
