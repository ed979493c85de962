import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { identifySocket } from '../../server/http/socket-auth.js';
import { TEST_ORIGIN, buildTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, anonymous, createClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';

let app: TestApp;
let server: Server;
let base: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  app = await buildTestApp();
  server = createServer(app.app);
  app.infra.realtime.attach(server, {
    identify: identifySocket(app.authenticator),
    isAllowedOrigin: app.isAllowedOrigin,
    ...(app.infra.redis ? { redis: app.infra.redis } : {}),
    log: app.infra.log,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await app.close();
  await new Promise((resolve) => server.close(resolve));
});

/** A socket signed in as `email`, collecting every event it receives. */
async function listen(email: string) {
  const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: TEST_ORIGIN }, body: JSON.stringify({ email, password: PASSWORD }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const socket = connect(base, { transports: ['websocket'], extraHeaders: { cookie, origin: TEST_ORIGIN }, reconnection: false });
  sockets.push(socket);
  const events: [string, unknown][] = [];
  socket.onAny((event: string, payload: unknown) => events.push([event, payload]));
  await new Promise<void>((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', reject);
  });
  return events;
}

const clinical = (events: [string, unknown][]) => events.filter(([e]) => e.startsWith('medical_record') || e.startsWith('anamnesis'));

describe('clinical realtime events', () => {
  it('reach the professionals of the clinic with ids only; receptionists, non-professional admins and other clinics get none', async () => {
    const clinic = await createClinic({ app });
    const other = await createClinic({ app });
    const [professional, receptionist, admin, theirs] = await Promise.all([
      listen(clinic.professional.email),
      listen(clinic.receptionist.email),
      listen(clinic.admin.email),
      listen(other.doctorAdmin.email),
    ]);
    const patient = await createPatient(clinic);
    const record = await clinic.professional.agent.post('/api/medical-records').send({ contactId: patient.id, type: 'note', content: 'Texto clínico sigiloso' });
    await clinic.professional.agent.post(`/api/medical-records/${record.body.id}/sign`).expect(200);
    const tpl = await clinic.professional.agent.post('/api/anamnesis/templates').send({ name: 'Curta', questions: [{ id: 'q', label: 'Como está?', type: 'text', required: true }] });
    const sent = await clinic.professional.agent.post(`/api/contacts/${patient.id}/anamnesis`).send({ templateId: tpl.body.id });
    await anonymous(app).post(`/api/public/anamnesis/${sent.body.token}`).send({ answers: { q: 'Resposta sigilosa' }, consent: { accepted: true, version: '2026-11-v1' } }).expect(200);
    // Emitted after the clinical events: once it arrives, anything clinical would have too.
    await clinic.admin.agent.patch('/api/clinic').send({ name: 'Clínica Depois' }).expect(200);

    for (const events of [professional, receptionist, admin]) {
      await expect.poll(() => events.some(([e]) => e === 'clinic:updated'), { timeout: 5000 }).toBe(true);
    }
    expect(clinical(professional)).toEqual([
      ['medical_record:signed', { id: record.body.id, contactId: patient.id }],
      ['anamnesis:submitted', { id: sent.body.id, contactId: patient.id }],
    ]);
    expect(JSON.stringify(professional)).not.toContain('sigilos');
    // The patient's registration is theirs to see; the clinical events are not.
    expect(receptionist.some(([e]) => e === 'contact:created')).toBe(true);
    expect(clinical(receptionist)).toEqual([]);
    expect(clinical(admin)).toEqual([]);
    expect(theirs).toEqual([]);
  });
});
