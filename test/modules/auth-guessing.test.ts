import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PASSWORD_RESET_JOB } from '../../server/modules/auth/service.js';
import { buildTestApp, getTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic, signIn } from '../helpers/clinic.js';

describe('change-password is rate limited per user', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await buildTestApp({ rateLimits: { changePassword: 2 } });
  });
  afterAll(async () => {
    await limited.close();
  });

  it('after the limit even the right password is refused (429), from any session of that user; other users are not affected', async () => {
    const clinic = await createClinic({ app: limited });
    const guess = (agent = clinic.professional.agent, currentPassword = 'palpite-errado') =>
      agent.post('/api/auth/change-password').send({ currentPassword, newPassword: 'nova-senha-456' });
    expect((await guess()).status).toBe(400);
    expect((await guess()).status).toBe(400);
    const blocked = await guess();
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('rate_limited');
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // A second session of the same user shares the count; the password did not change.
    const other = await signIn(limited, clinic.professional.email);
    expect((await guess(other, PASSWORD)).status).toBe(429);
    await signIn(limited, clinic.professional.email, PASSWORD);
    expect((await guess(clinic.receptionist.agent)).status).toBe(400);
  });
});

describe('password reset does the same work for known and unknown emails', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await getTestApp();
  });

  it('both answers are identical and both requests only queue the same job; only the known email gets a link', async () => {
    const clinic = await createClinic({ app });
    const unknownEmail = `ninguem-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const add = vi.spyOn(app.infra.queue, 'add');
    try {
      const known = await anonymous(app).post('/api/auth/password-reset').send({ email: clinic.admin.email.toUpperCase() });
      const unknown = await anonymous(app).post('/api/auth/password-reset').send({ email: unknownEmail });
      expect([known.status, unknown.status]).toEqual([202, 202]);
      expect(known.body).toEqual(unknown.body);
      expect(known.headers['content-length']).toBe(unknown.headers['content-length']);
      // The same job shape for both; the email travels sealed, never in clear.
      const resetJobs = add.mock.calls.filter(([name]) => name === PASSWORD_RESET_JOB).map(([, data]) => data as { sealedEmail: string });
      expect(resetJobs.map((d) => Object.keys(d))).toEqual([['sealedEmail'], ['sealedEmail']]);
      expect(resetJobs.map((d) => app.infra.secrets.open(d.sealedEmail))).toEqual([clinic.admin.email, unknownEmail]);
      expect(JSON.stringify(resetJobs)).not.toContain('@');
    } finally {
      add.mockRestore();
    }
    expect((await app.mail.waitFor(clinic.admin.email)).text).toContain('redefinir-senha?token=');
    await new Promise((r) => setTimeout(r, 200));
    expect(app.mail.sent.filter((m) => m.to === unknownEmail)).toEqual([]);
  });
});
