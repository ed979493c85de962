import type { MailMessage } from '../../infra/mailer.js';
import type { JobDef } from '../../infra/queue.js';
import type { Infra } from '../../infra/index.js';
import { deleteExpiredTokens } from '../auth/cleanup.js';

export const platformJobs = (infra: Infra): JobDef<never>[] => [
  {
    name: 'mail.send',
    attempts: 5,
    handler: async (data: MailMessage) => infra.mailer.send({ to: data.to, subject: data.subject, text: data.text }),
  } satisfies JobDef<MailMessage>,
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
