import type { MailMessage } from '../../infra/mailer.js';
import type { JobDef } from '../../infra/queue.js';
import type { Infra } from '../../infra/index.js';
import { deleteExpiredTokens } from '../auth/cleanup.js';

const OUTBOX_PRUNE_EVERY_MS = 3600_000;
const OUTBOX_RETENTION_MS = 24 * 3600_000;

export const platformJobs = (infra: Infra): JobDef<never>[] => [
  {
    name: 'mail.send',
    attempts: 5,
    handler: async (data: MailMessage) => infra.mailer.send({ to: data.to, subject: data.subject, text: data.text }),
  } satisfies JobDef<MailMessage>,
  {
    // Delivered events are kept a day (a short log for support), then removed; once per cluster.
    name: 'outbox.prune',
    everyMs: OUTBOX_PRUNE_EVERY_MS,
    handler: async (_data, meta) => {
      const removed = await infra.events.prune(OUTBOX_RETENTION_MS);
      infra.log.info({ removed, jobId: meta.jobId }, 'delivered events pruned');
    },
  },
  {
    name: 'tokens.cleanup',
    everyMs: infra.config.tokensCleanupEveryMs,
    handler: async (_data, meta) => {
      const removed = await deleteExpiredTokens(infra.db);
      // The job id lets an operator (and the deploy rehearsal) see each scheduled run happened once per cluster.
      infra.log.info({ ...removed, jobId: meta.jobId }, 'expired tokens removed');
    },
  },
];
