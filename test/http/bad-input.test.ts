import { beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import type { Response } from 'supertest';
import { auditLog } from '../../shared/schema/index.js';
import { getTestApp, type TestApp } from '../helpers/app.js';
import { anonymous, createClinic, signIn, type Agent, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { typesOf, type JsonSchema } from '../helpers/api-fuzz-values.js';

/**
 * Every operation of /api/openapi.json, as a signed-in doctorAdmin (admin and professional, so
 * permissions let the input reach validation): malformed JSON, wrong types, unknown fields, huge
 * strings, NUL bytes in every string (body, query, path), dates at and beyond the ends of what
 * JavaScript and Postgres hold, cursors at those dates, and truncated or boundary-less multipart
 * bodies. Each answer must be a 4xx in the error shape, never a 5xx,
 * and nothing may change. Everything comes from the document, so new routes are covered as they land.
 */

interface Operation {
  parameters?: { name: string; in: 'path' | 'query'; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

const ZERO_UUID = '00000000-0000-4000-8000-000000000000';
const HUGE = 'x'.repeat(100 * 1024);
const NUL = 'a\u0000b';
/** Dates JavaScript parses but Postgres (years 4713 BC to 294276 AD) or an added duration cannot hold. */
const EXTREME_DATES = ['9999-12-31T23:50Z', '9999-12-31T23:50:00Z', '9999-12-31T23:59:59.999Z', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '0000-01-01T00:00:00Z'];
const EXTREME_DAYS = ['9999-12-31', '0000-01-01', '-271821-04-20', '+275760-09-13'];
const cursorAt = (at: string) => Buffer.from(`${at}|${ZERO_UUID}`).toString('base64url');

const isDateSchema = (s: JsonSchema) => s.format === 'date-time' || s.format === 'date' || (s.anyOf ?? s.oneOf ?? []).some(isDateSchema);
const extremesFor = (s: JsonSchema) => (s.format === 'date' || (s.anyOf ?? s.oneOf ?? []).some((v) => v.format === 'date') ? EXTREME_DAYS : EXTREME_DATES);

/** The value with a NUL byte in every string it holds (keys included). */
function withNul(value: unknown): unknown {
  if (typeof value === 'string') return `${value}\u0000`;
  if (Array.isArray(value)) return value.map(withNul);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNul(v)]));
  return value;
}

/** Real ids of the sweep's clinic for the fields that name them, so bad values reach the services. */
const realIds: Record<string, string> = {};

/** A plausible valid value, so that the one bad field is what validation must catch. */
function example(s: JsonSchema): unknown {
  const variant = (s.anyOf ?? s.oneOf)?.find((v) => !typesOf(v).includes('null'));
  if (variant) return example(variant);
  if (s.enum) return s.enum[0];
  if (s.const !== undefined) return s.const;
  const type = typesOf(s).find((t) => t !== 'null');
  switch (type) {
    case 'string':
      if (s.format === 'uuid') return ZERO_UUID;
      if (s.format === 'email') return 'exemplo@example.com';
      if (s.format === 'date-time') return new Date().toISOString();
      if (s.format === 'date') return '2026-01-15';
      return 'a'.repeat(Math.max(s.minLength ?? 1, 10));
    case 'integer':
    case 'number':
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return true;
    case 'array':
      return s.minItems && s.items ? Array.from({ length: s.minItems }, () => example(s.items as JsonSchema)) : [];
    case 'object':
      // Required properties only: optional ones often carry refinements a generated value would miss.
      return Object.fromEntries(Object.entries(s.properties ?? {}).filter(([k]) => s.required?.includes(k)).map(([k, v]) => [k, realIds[k] ?? example(v)]));
    default:
      return 'a';
  }
}

/** A value of a type the schema does not accept. */
function wrongType(s: JsonSchema): unknown {
  const types = typesOf(s);
  if (types.includes('string')) return types.includes('number') ? { not: 'this' } : 12345;
  if (types.includes('number') || types.includes('integer')) return 'doze';
  if (types.includes('boolean')) return 'sim';
  if (types.includes('array')) return 'lista';
  if (types.includes('object')) return ['x'];
  return { unexpected: true };
}

function pathFor(path: string, op: Operation, override?: string) {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    if (override !== undefined) return encodeURIComponent(override);
    const schema = op.parameters?.find((p) => p.in === 'path' && p.name === name)?.schema;
    return schema?.format === 'uuid' ? ZERO_UUID : 'y'.repeat(43);
  });
}

let app: TestApp;
let clinic: TestClinic;
let operations: [string, string, Operation][];

beforeAll(async () => {
  app = await getTestApp();
  clinic = await createClinic({ app });
  realIds.contactId = (await createPatient(clinic)).id;
  realIds.professionalId = clinic.professional.id;
  const doc = (await anonymous(app).get('/api/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [method, path, op] as [string, string, Operation]));
});

function expectClientError(res: Response, what: string) {
  expect.soft(res.status, `${what} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect.soft(res.status, what).toBeLessThan(500);
  expect.soft(res.type, what).toBe('application/json');
  expect.soft(res.body.error?.code, what).toBeTypeOf('string');
  // A documented operation always has a route: refusing the input is the point, not missing it.
  expect.soft(res.body.error?.code, what).not.toBe('route_not_found');
  expect.soft(JSON.stringify(res.body), what).not.toMatch(/\bat .+\.(ts|js):\d+|select .* from|ZodError/i);
}

const auditCount = async () =>
  (await app.infra.db.select({ n: sql<number>`count(*)::int` }).from(auditLog).where(eq(auditLog.clinicId, clinic.id)))[0]?.n ?? 0;

describe('bad input to every documented operation', () => {
  it('the document lists the operations', () => {
    expect(operations.length).toBeGreaterThan(15);
  });

  it('answers 4xx JSON (never 5xx) and changes nothing', async () => {
    for (const [method, path, op] of operations) {
      // A fresh session per operation: logout or switch-clinic must not spoil the next ones.
      const agent: Agent = await signIn(app, clinic.doctorAdmin.email);
      const before = await auditCount();
      const name = `${method.toUpperCase()} ${path}`;
      const call = (url: string) => (agent as unknown as Record<string, (u: string) => ReturnType<Agent['get']>>)[method]!(url);

      const pathParams = op.parameters?.filter((p) => p.in === 'path') ?? [];
      for (const bad of pathParams.length ? ['not-a-uuid', "' OR 1=1 --", '%00', '\u0000', `${ZERO_UUID}\u0000`, 'z'.repeat(3000)] : []) {
        expectClientError(await call(pathFor(path, op, bad)), `${name} path=${bad.slice(0, 20)}`);
      }

      const url = pathFor(path, op);
      for (const q of op.parameters?.filter((p) => p.in === 'query') ?? []) {
        const values = [String(wrongType(q.schema)), 'q'.repeat(10 * 1024), NUL, `${String(example(q.schema))}\u0000`];
        if (isDateSchema(q.schema)) values.push(...extremesFor(q.schema));
        if (q.name === 'cursor') values.push(...[...EXTREME_DATES, '2026-01-01T00:00:00.000Z'].map(cursorAt), cursorAt(`2026-01-01T00:00:00.000Z\u0000`));
        for (const value of values) {
          const res = await call(url).query({ [q.name]: value });
          expect.soft(res.status, `${name} ?${q.name}=${value.slice(0, 20)}`).toBeLessThan(500);
          if (res.status >= 400) expectClientError(res, `${name} ?${q.name}`);
        }
      }

      const body = op.requestBody?.content['application/json']?.schema;
      if (op.requestBody) {
        expectClientError(await call(url).set('Content-Type', 'application/json').send('{"a": [1, 2,'), `${name} malformed JSON`);
        expectClientError(await call(url).send([1, 2, 3]), `${name} array body`);
      }
      if (body) {
        const valid = example(body) as Record<string, unknown>;
        expectClientError(await call(url).send({ ...valid, unknownField: 'x' }), `${name} unknown field`);
        for (const [prop, schema] of Object.entries(body.properties ?? {})) {
          expectClientError(await call(url).send({ ...valid, [prop]: wrongType(schema) }), `${name} ${prop}: wrong type`);
          expectClientError(await call(url).send({ ...valid, [prop]: HUGE }), `${name} ${prop}: 100 KB string`);
          expectClientError(await call(url).send({ ...valid, [prop]: { nested: HUGE } }), `${name} ${prop}: object`);
          if (typesOf(schema).includes('string')) expectClientError(await call(url).send({ ...valid, [prop]: NUL }), `${name} ${prop}: NUL byte`);
          for (const date of isDateSchema(schema) ? extremesFor(schema) : []) {
            const res = await call(url).send({ ...valid, [prop]: date });
            expect.soft(res.status, `${name} ${prop}: ${date} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`).toBeLessThan(500);
          }
        }
        if (JSON.stringify(withNul(valid)) !== JSON.stringify(valid)) expectClientError(await call(url).send(withNul(valid) as object), `${name} NUL in every string`);
      }
      const multipart = op.requestBody?.content['multipart/form-data'];
      if (multipart) {
        const boundary = '----opb-test-boundary';
        const part = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="nota.txt"\r\nContent-Type: text/plain\r\n\r\nolá`;
        const shapes: [string, string, string][] = [
          ['multipart without boundary', 'multipart/form-data', part],
          ['truncated multipart', `multipart/form-data; boundary=${boundary}`, part],
          ['multipart with a foreign boundary', `multipart/form-data; boundary=other`, `${part}\r\n--${boundary}--\r\n`],
          ['empty multipart', `multipart/form-data; boundary=${boundary}`, ''],
          ['multipart with NUL in the file name', `multipart/form-data; boundary=${boundary}`, `${part.replace('nota.txt', 'no\u0000ta.txt')}\r\n--${boundary}--\r\n`],
        ];
        for (const [what, type, payload] of shapes) {
          expectClientError(await call(url).set('Content-Type', type).send(payload), `${name} ${what}`);
        }
      }
      expect(await auditCount(), `${name} changed something`).toBe(before);
    }
  }, 600_000);
});
