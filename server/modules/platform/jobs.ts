import type { MailMessage } from '../../infra/mailer.js';
import { defineJob, type AnyJobDef, type JobOptions } from '../../infra/queue.js';
import type { Infra } from '../../infra/index.js';
import { pruneIdempotencyKeys } from '../../http/idempotency.js';
import { deleteExpiredTokens } from '../auth/cleanup.js';

/** A mail in the queue: recipient, subject and text (with its reset or invitation link) sealed with SecretBox. */
export interface MailJob {
  sealed: string;
}

declare module '../../infra/queue.js' {
  interface JobMap {
    'mail.send': MailJob;
    'tokens.cleanup': Record<string, never>;
    'idempotency.prune': Record<string, never>;
    'outbox.prune': Record<string, never>;
  }
}

/**
 * Queues a mail. Failed jobs are kept for 14 days and Redis is not where links, addresses or
 * patient data should rest: the job carries only ciphertext that the worker opens.
 */
export const enqueueMail = (infra: Pick<Infra, 'queue' | 'secrets'>, message: MailMessage, context?: JobOptions['context']) =>
  infra.queue.add('mail.send', { sealed: infra.secrets.seal(JSON.stringify(message)) }, { context });

const OUTBOX_PRUNE_EVERY_MS = 3600_000;
const OUTBOX_RETENTION_MS = 24 * 3600_000;

export const platformJobs = (infra: Infra): AnyJobDef[] => [
  defineJob({
    name: 'mail.send',
    queue: 'mail',
    handler: async (data) => {
      const message = JSON.parse(infra.secrets.open(data.sealed)) as MailMessage;
      await infra.mailer.send({ to: message.to, subject: message.subject, text: message.text });
    },
  }),
  defineJob({
    // Delivered events are kept a day (a short log for support), then removed; once per cluster.
    name: 'outbox.prune',
    queue: 'maintenance',
    everyMs: OUTBOX_PRUNE_EVERY_MS,
    handler: async (_data, job) => {
      const removed = await infra.events.prune(OUTBOX_RETENTION_MS);
      job.log.info({ removed }, 'delivered events pruned');
    },
  }),
  defineJob({
    name: 'tokens.cleanup',
    queue: 'maintenance',
    everyMs: infra.config.tokensCleanupEveryMs,
    handler: async (_data, job) => {
      const removed = await deleteExpiredTokens(infra.systemDb);
      // job.log carries the job id: an operator (and the deploy rehearsal) sees each scheduled run happened once per cluster.
      job.log.info(removed, 'expired tokens removed');
    },
  }),
  defineJob({
    name: 'idempotency.prune',
    queue: 'maintenance',
    everyMs: infra.config.tokensCleanupEveryMs,
    handler: async (_data, job) => {
      const removed = await pruneIdempotencyKeys(infra.systemDb);
      job.log.info({ idempotencyKeys: removed }, 'expired idempotency keys removed');
    },
  }),
];
