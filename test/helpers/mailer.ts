import type { MailMessage, Mailer } from '../../server/infra/mailer.js';

/** Keeps what the app sends so tests can read the links in it. */
export class RecordingMailer implements Mailer {
  readonly kind = 'log';
  readonly sent: MailMessage[] = [];

  async send(message: MailMessage) {
    this.sent.push(message);
  }

  close() {}

  /** Waits for a mail to `to` (mail goes through the queue, so it arrives a moment later). */
  async waitFor(to: string, timeoutMs = 5000): Promise<MailMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.sent.find((m) => m.to === to);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no mail to ${to}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
