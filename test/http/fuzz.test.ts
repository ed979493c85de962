import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { route, uuidParam } from '../../server/http/route.js';
import type { Module } from '../../server/modules/module.js';
import { chain, coverage, deliveryFindings, fuzzWorld, type FuzzWorld } from '../helpers/api-fuzz.js';
import { addMessage } from '../helpers/inbox.js';
import { until } from '../helpers/until.js';

// A fixed seed and a short budget in `npm test`; `npm run bench -- fuzz` (or FUZZ_RUNS=2000
// FUZZ_SEED=<n>) runs longer. A finding prints the request and the answer.
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

let world: FuzzWorld;
beforeAll(async () => {
  world = await fuzzWorld();
}, 120_000);
afterAll(() => world?.close());

describe('stateful fuzzing over the OpenAPI document', () => {
  it('finds resources to chain and the operations on what they create', () => {
    const byKey = new Map(world.resources.map((r) => [r.create.key, r.items.map((op) => op.key)]));
    expect(byKey.get('POST /api/medical-records')).toEqual(expect.arrayContaining(['POST /api/medical-records/{id}/sign', 'POST /api/medical-records/{id}/addenda']));
    expect(byKey.get('POST /api/contacts')).toEqual(expect.arrayContaining(['GET /api/contacts/{id}/timeline', 'POST /api/contacts/{id}/anamnesis', 'DELETE /api/contacts/{id}']));
    // Deleting comes last in a lifecycle.
    expect(byKey.get('POST /api/contacts')?.at(-1)).toMatch(/^DELETE |anonymize$/);
    // What no route creates starts from the seeded ones: a conversation, a team member.
    expect(world.fixtures.map((f) => f.kind)).toEqual(expect.arrayContaining(['conversation', 'user']));
  });

  it(`chains as every role, a key and another clinic: no 5xx, no other clinic's ids, no lost or twice-sent message (${RUNS} chains, seed ${SEED})`, async () => {
    await fc.assert(
      // Every chain runs (no stop at the first finding): the test then lists all that were found.
      fc.asyncProperty(chain(world), (c) => c.run()),
      { numRuns: RUNS, seed: SEED },
    );
    world.findings.push(...(await deliveryFindings(world)));
    const cover = coverage(world);
    console.info(
      `fuzz: ${world.stats.chains} chains (seed ${SEED}), ${world.stats.requests} requests, ${world.stats.created} chains created something; ${cover.reached} of ${cover.total} operations answered with a 2xx (${Math.round(cover.share * 100)}%); the other clinic's tries by answer ${JSON.stringify(world.stats.probes)}, WhatsApp sends ${world.evolution.sent.length}\n${cover.table}`,
    );
    expect(world.findings).toEqual([]);
    // A fuzzer refused at the door proves little: most operations must be reached.
    if (RUNS >= 300) expect(cover.share).toBeGreaterThan(0.6);
  }, 120_000 + RUNS * 1000);
});

describe('the fuzzer on a feature with the faults it looks for', () => {
  it('reports a 5xx, another clinic id in an answer, and another clinic reading an item', async () => {
    const foreign = { id: '' };
    // No clinic check, an id of the other clinic in every read, and a crash on large numbers.
    const canary: Module = {
      name: 'fuzz-canary',
      services: {},
      routes: [
        route({ method: 'post', path: '/fuzz-canary', summary: 'canary', tag: 'Canary', access: 'contacts:write', status: 201, schemas: { body: z.strictObject({ n: z.number().int() }) }, handler: async () => ({ id: randomUUID() }) }),
        route({ method: 'get', path: '/fuzz-canary/:id', summary: 'canary', tag: 'Canary', access: 'contacts:read', schemas: { params: uuidParam }, handler: async ({ params }) => ({ id: params.id, owner: foreign.id }) }),
        route({
          method: 'patch',
          path: '/fuzz-canary/:id',
          summary: 'canary',
          tag: 'Canary',
          access: 'contacts:write',
          schemas: { params: uuidParam, body: z.strictObject({ n: z.number().int() }) },
          handler: async ({ body }) => {
            if (body.n > 10) throw new Error('canary crash');
            return { ok: true };
          },
        }),
      ],
    };
    const canaryWorld = await fuzzWorld({ modules: [canary] });
    try {
      canaryWorld.operations = canaryWorld.operations.filter((op) => op.path.startsWith('/api/fuzz-canary'));
      canaryWorld.resources = canaryWorld.resources.filter((r) => r.create.path === '/api/fuzz-canary');
      canaryWorld.fixtures = [];
      // Clinic B's patient: the ledger knows it as clinic B's.
      foreign.id = canaryWorld.ledger.pool('b', 'contact')[0] as string;
      await fc.assert(fc.asyncProperty(chain(canaryWorld), (c) => c.run()), { numRuns: 40, seed: SEED });
      expect(new Set(canaryWorld.findings.map((f) => f.kind))).toEqual(new Set(['5xx', 'leak', 'cross-clinic 2xx']));
    } finally {
      await canaryWorld.close();
    }
  }, 120_000);

  it('reports a message that stays pending and one the gateway received twice', async () => {
    const canaryWorld = await fuzzWorld();
    try {
      const { a } = canaryWorld.clinics;
      const conversation = canaryWorld.ledger.pool('a', 'conversation')[0] as string;
      const res = await a.receptionist.agent.post(`/api/conversations/${conversation}/messages`).set('Idempotency-Key', 'canary-1').send({ text: 'Mensagem de teste 1' });
      expect(res.status).toBe(201);
      await until(() => canaryWorld.evolution.sent.length === 1);
      expect(await deliveryFindings(canaryWorld, 1000)).toEqual([]);
      // The gateway got the same message again (its second id is stored nowhere), and a message no job will send.
      const [sent] = canaryWorld.evolution.sent;
      canaryWorld.evolution.sent.push({ ...(sent as NonNullable<typeof sent>), externalId: '3EB0CANARY0000000000' });
      const numberId = canaryWorld.ledger.pool('a', 'number')[0] as string;
      await addMessage(a, { id: conversation, numberId }, { direction: 'outbound', sender: 'user', text: 'Nunca enviada', status: 'pending' });
      expect((await deliveryFindings(canaryWorld, 1000)).map((f) => f.kind).sort()).toEqual(['duplicate send', 'lost message']);
    } finally {
      await canaryWorld.close();
    }
  }, 120_000);
});
