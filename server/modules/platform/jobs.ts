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
    everyMs: 60 * 60_000,
    handler: async () => {
      const removed = await deleteExpiredTokens(infra.db);
      infra.log.info(removed, 'expired tokens removed');
    },
  },
];
