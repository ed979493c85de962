import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload, JoinAck } from '../../../shared/api/events.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { receive, seedConversation, seedNumber, type SeededConversation, type SeededNumber } from '../../helpers/inbox.js';
import { collect, listen, nextEvent, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../../helpers/server.js';
import { withRedis } from '../../helpers/skip.js';

const sockets: ClientSocket[] = [];
const track = (socket: ClientSocket) => (sockets.push(socket), socket);
afterAll(() => {
  for (const socket of sockets) socket.close();
});

const memberSocket = async (running: RunningServer, email: string) =>
  track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, email) }));

/** The first `message:new` of a given message (earlier events of other tests may still be arriving). */
function messageNew(socket: ClientSocket, want: { id?: string }, ms = 5000) {
  return new Promise<EventPayload<'message:new'>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message:new for it in time')), ms);
    const listener = (payload: EventPayload<'message:new'>) => {
      if (payload.id !== want.id) return;
      clearTimeout(timer);
      socket.off('message:new', listener);
      resolve(payload);
    };
    socket.on('message:new', listener);
  });
}

const join = (socket: ClientSocket, id: unknown) =>
  new Promise<JoinAck>((resolve) => socket.emit('conversation:join', { id } as { id: string }, resolve));

describe('inbox events over sockets', () => {
  let app: TestApp;
  let running: RunningServer;
  let clinic: TestClinic;
  let shared: SeededNumber;
  let privateLine: SeededNumber;
  let sharedConversation: SeededConversation;
  let privateConversation: SeededConversation;
  let receptionist: ClientSocket;
  let professional: ClientSocket;
  let admin: ClientSocket;

  beforeAll(async () => {
    app = await buildTestApp();
    running = await listen(app);
    clinic = await createClinic({ app });
    shared = await seedNumber(clinic);
    privateLine = await seedNumber(clinic, { professionalId: clinic.professional.id });
    sharedConversation = await seedConversation(clinic, shared);
    privateConversation = await seedConversation(clinic, privateLine);
    [receptionist, professional, admin] = await Promise.all([
      memberSocket(running, clinic.receptionist.email),
      memberSocket(running, clinic.professional.email),
      memberSocket(running, clinic.admin.email),
    ]);
  });
  afterAll(() => running.close());

  it('message:new and conversation:updated reach the clinic with the preview', async () => {
    const wanted = {} as { id?: string };
    const message = messageNew(receptionist, wanted);
    const conversation = nextEvent(receptionist, 'conversation:updated');
    const row = await receive(clinic, sharedConversation, 'Vocês atendem sábado?');
    wanted.id = row.id;
    expect(await message).toMatchObject({ id: row.id, conversationId: sharedConversation.id, direction: 'inbound', preview: 'Vocês atendem sábado?', contactId: sharedConversation.contact.id });
    expect(await conversation).toMatchObject({ id: sharedConversation.id, unreadCount: 2, status: 'open' });
  });

  it("a private number's events reach its professional and the admins, never the receptionist", async () => {
    const seenByReceptionist = collect(receptionist, 'message:new');
    const privateId = {} as { id?: string };
    const toProfessional = messageNew(professional, privateId);
    const toAdmin = messageNew(admin, privateId);
    privateId.id = (await receive(clinic, privateConversation, 'Doutora, posso adiantar a sessão?')).id;
    expect((await toProfessional).conversationId).toBe(privateConversation.id);
    expect((await toAdmin).preview).toBe('Doutora, posso adiantar a sessão?');
    // A later shared message reaches the receptionist: the private one, emitted first, would have too.
    const sharedId = {} as { id?: string };
    const later = messageNew(receptionist, sharedId);
    sharedId.id = (await receive(clinic, sharedConversation, 'Obrigado!')).id;
    await later;
    const row = { id: privateId.id };
    expect(seenByReceptionist.map((m) => (m as { id: string }).id)).not.toContain(row.id);
  });

  it('conversation rooms are joined only after the REST check', async () => {
    const other = await createClinic({ app });
    const foreign = await seedConversation(other, await seedNumber(other));
    expect(await join(receptionist, sharedConversation.id)).toEqual({ ok: true });
    expect(await join(receptionist, privateConversation.id)).toEqual({ ok: false, error: 'not_found' });
    expect(await join(receptionist, foreign.id)).toEqual({ ok: false, error: 'not_found' });
    expect(await join(receptionist, 'not-a-uuid')).toEqual({ ok: false, error: 'invalid' });
    expect(await join(professional, privateConversation.id)).toEqual({ ok: true });

    // Room events reach the members of that room only.
    const inRoom = nextEvent(receptionist, 'conversation:typing');
    const outside = collect(admin, 'conversation:typing');
    app.infra.realtime.emitToRoom(clinic.id, 'conversation', sharedConversation.id, 'conversation:typing', { conversationId: sharedConversation.id, userId: clinic.professional.id });
    expect(await inRoom).toEqual({ conversationId: sharedConversation.id, userId: clinic.professional.id });
    const markerId = {} as { id?: string };
    const marker = messageNew(admin, markerId);
    markerId.id = (await receive(clinic, sharedConversation, 'Mais uma')).id;
    await marker;
    expect(outside).toEqual([]);
  });
});

describe.runIf(withRedis('inbox: two instances on one Redis'))('two instances on one Redis', () => {
  let first: TestApp;
  let second: TestApp;
  let instanceA: RunningServer;
  let instanceB: RunningServer;

  beforeAll(async () => {
    [first, second] = await Promise.all([buildTestApp(), buildTestApp()]);
    [instanceA, instanceB] = await Promise.all([listen(first), listen(second)]);
  });
  afterAll(async () => {
    await Promise.all([instanceA.close(), instanceB.close()]);
  });

  it('a message stored through instance A reaches a socket connected to instance B', async () => {
    const clinic = await createClinic({ app: first });
    const conversation = await seedConversation(clinic, await seedNumber(clinic));
    const socket = await memberSocket(instanceB, clinic.receptionist.email);
    const wanted = {} as { id?: string };
    const received = messageNew(socket, wanted);
    const row = await receive(clinic, conversation, 'Chegou pela instância A');
    wanted.id = row.id;
    expect(await received).toMatchObject({ id: row.id, conversationId: conversation.id, preview: 'Chegou pela instância A' });
  });
});
