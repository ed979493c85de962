import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { z } from 'zod';
import { beforeAll, describe, expect, it } from 'vitest';
import { route, uuidParam } from '../../server/http/route.js';
import type { Module } from '../../server/modules/module.js';
import { buildTestApp, getTestApp } from '../helpers/app.js';
import { chain, fuzzWorld, type FuzzWorld } from '../helpers/api-fuzz.js';

// A fixed seed and a short budget in `npm test`; `npm run bench -- fuzz` (or FUZZ_RUNS=2000
// FUZZ_SEED=<n>) runs longer. A finding prints the request and the answer.
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

let world: FuzzWorld;
beforeAll(async () => {
  world = await fuzzWorld(await getTestApp());
}, 120_000);

describe('stateful fuzzing over the OpenAPI document', () => {
  it('finds resources to chain', () => {
    const names = world.resources.map((r) => r.collection);
    expect(names).toEqual(expect.arrayContaining(['/api/contacts', '/api/appointments', '/api/medical-records']));
    expect(world.resources.filter((r) => r.items.length > 0).length).toBeGreaterThan(10);
  });

  it(`create -> read -> patch -> delete as every role, a key and another clinic: no 5xx, no other clinic's ids (${RUNS} chains, seed ${SEED})`, async () => {
    await fc.assert(
      // Every chain runs (no stop at the first finding): the test then lists all that were found.
      fc.asyncProperty(chain(world), (c) => c.run()),
      { numRuns: RUNS, seed: SEED },
    );
    console.info(`fuzz: ${RUNS} chains, ${world.stats.created} created something; answers by status ${JSON.stringify(world.stats.statuses)}`);
    expect(world.findings).toEqual([]);
  }, 600_000);
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
    const app = await buildTestApp({ modules: [canary] });
    try {
      const canaryWorld = await fuzzWorld(app);
      canaryWorld.resources = canaryWorld.resources.filter((r) => r.collection === '/api/fuzz-canary');
      // The other clinic's patient: the ledger knows it as clinic B's.
      foreign.id = canaryWorld.ledger.idsOf('b')[1] as string;
      await fc.assert(fc.asyncProperty(chain(canaryWorld), (c) => c.run()), { numRuns: 40, seed: SEED });
      expect(new Set(canaryWorld.findings.map((f) => f.kind))).toEqual(new Set(['5xx', 'leak', 'cross-clinic 2xx']));
    } finally {
      await app.close();
    }
  }, 120_000);
});
