import nodemailer from 'nodemailer';
import type { Logger } from './logger.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'log';
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** SMTP when SMTP_URL is set; otherwise development prints the mail to the log (production only notes it). */
export function createMailer(opts: { smtpUrl?: string; from: string; production: boolean; log: Logger }): Mailer {
  if (opts.smtpUrl) {
    const transport = nodemailer.createTransport(opts.smtpUrl);
    return {
      kind: 'smtp',
      async send(message) {
        await transport.sendMail({ from: opts.from, ...message });
      },
      close: () => transport.close(),
    };
  }
  return {
    kind: 'log',
    async send(message) {
      // Mail bodies carry links with tokens: they are printed only outside production.
      if (opts.production) opts.log.warn({ subject: message.subject }, 'SMTP_URL is not set: mail not delivered');
      else opts.log.info({ mail: { to: message.to, subject: message.subject }, mailText: message.text }, 'mail (development: not sent)');
    },
    close: () => {},
  };
}
