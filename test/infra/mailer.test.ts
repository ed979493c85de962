import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/infra/logger.js';
import { createMailer } from '../../server/infra/mailer.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic } from '../helpers/clinic.js';
import { FakeSmtp, decodedBody } from '../fakes/smtp.js';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

describe('mail over SMTP (SMTP_URL)', () => {
  let smtp: FakeSmtp;
  let app: TestApp;
  beforeAll(async () => {
    smtp = await new FakeSmtp().start();
    app = await buildTestApp({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'Operabase <nao-responda@operabase.test>' }, realMailer: true });
  });
  afterAll(async () => {
    await app.close();
    await smtp.stop();
  });

  it('delivers the password reset link through the queue', async () => {
    expect(app.infra.mailer.kind).toBe('smtp');
    const clinic = await createClinic({ app });
    const res = await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.receptionist.email.toUpperCase() });
    expect(res.status).toBe(202);
    const mail = await smtp.waitFor(clinic.receptionist.email);
    expect(mail.from).toBe('nao-responda@operabase.test');
    const body = decodedBody(mail);
    expect(body).toContain('redefinir a sua senha');
    const token = /redefinir-senha\?token=([\w-]+)/.exec(body)?.[1];
    expect(token).toBeDefined();

    const confirm = await anonymous(app).post('/api/auth/password-reset/confirm').send({ token, newPassword: 'nova-senha-segura' });
    expect(confirm.status).toBe(200);
    const login = await anonymous(app).post('/api/auth/login').send({ email: clinic.receptionist.email, password: 'nova-senha-segura' });
    expect(login.status).toBe(200);
  });

  it('sends nothing for an unknown email and answers the same', async () => {
    const before = smtp.messages.length;
    const res = await anonymous(app).post('/api/auth/password-reset').send({ email: 'ninguem@example.com' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.messages.length).toBe(before);
  });
});

describe('log mailer', () => {
  const message = { to: 'ana@example.com', subject: 'Assunto', text: 'Link: http://app.test/redefinir-senha?token=abc' };

  it('prints the mail with its link in development', async () => {
    const { log, lines } = capturingLogger();
    const mailer = createMailer({ from: 'x', production: false, log });
    expect(mailer.kind).toBe('log');
    await mailer.send(message);
    log.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(JSON.stringify(lines)).toContain('redefinir-senha?token=abc');
  });

  it('never prints the body (which holds tokens) in production', async () => {
    const { log, lines } = capturingLogger();
    const mailer = createMailer({ from: 'x', production: true, log });
    await mailer.send(message);
    log.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.length).toBe(1);
    expect(JSON.stringify(lines)).not.toContain('token=abc');
  });
});
