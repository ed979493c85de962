import fc from 'fast-check';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { API_KEY_SCOPES } from '../../server/lib/permissions.js';
import type { TestApp } from './app.js';
import { TEST_ORIGIN } from './app.js';
import { createClinic, type TestClinic } from './clinic.js';
import { createPatient } from './patients.js';

/**
 * A stateful fuzzer over /api/openapi.json (test/http/fuzz.test.ts, docs/reliability.md): chains of
 * create -> read -> patch -> delete on every documented resource, with bodies drawn from each
 * operation's schema (valid, or with one field made wrong), as every role and an API key of clinic
 * A, each item then tried by clinic B. Invariants: no 5xx; no answer holds an id only the other
 * clinic has been shown; clinic B never gets a 2xx on clinic A's item.
 */

export interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  additionalProperties?: unknown;
}
interface Operation {
  parameters?: { name: string; in: 'path' | 'query'; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Resource {
  collection: string;
  create: Operation;
  items: { method: Method; path: string; op: Operation }[];
}

export interface Finding {
  kind: '5xx' | 'leak' | 'cross-clinic 2xx';
  request: string;
  status: number;
  detail: string;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ZERO_UUID = '00000000-0000-4000-8000-000000000000';
/** Routes whose side effects end the fuzzing sessions, or that only external senders call. */
const SKIPPED = /^\/api\/(auth|webhooks)\b/;

const typesOf = (s: JsonSchema): string[] => {
  if (s.anyOf ?? s.oneOf) return (s.anyOf ?? s.oneOf ?? []).flatMap(typesOf);
  if (s.enum || s.const !== undefined) return [typeof (s.enum?.[0] ?? s.const)];
  return s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
};

/** The ids each clinic has been shown so far: an id seen only by one clinic is that clinic's. */
class Ledger {
  private readonly seen = new Map<string, Set<'a' | 'b'>>();
  note(side: 'a' | 'b', text: string) {
    for (const id of text.match(UUID) ?? []) {
      const sides = this.seen.get(id.toLowerCase()) ?? new Set();
      sides.add(side);
      this.seen.set(id.toLowerCase(), sides);
    }
  }
  /** Ids in `text` that only the other side has been shown. */
  foreign(side: 'a' | 'b', text: string): string[] {
    return (text.match(UUID) ?? []).filter((id) => {
      const sides = this.seen.get(id.toLowerCase());
      return sides !== undefined && sides.size === 1 && !sides.has(side);
    });
  }
  only(side: 'a' | 'b', id: string): boolean {
    const sides = this.seen.get(id.toLowerCase());
    return sides !== undefined && sides.size === 1 && sides.has(side);
  }
  idsOf(side: 'a' | 'b'): string[] {
    return [...this.seen].filter(([, s]) => s.size === 1 && s.has(side)).map(([id]) => id);
  }
  /** Clinic A's ids by the field that named them (`contactId`, and a created contact's `id`). */
  readonly byField = new Map<string, Set<string>>();
  noteFields(value: unknown, field = '') {
    if (typeof value === 'string' && /^[0-9a-f-]{36}$/i.test(value) && field.endsWith('Id')) {
      const set = this.byField.get(field) ?? new Set();
      this.byField.set(field, set.add(value));
    } else if (Array.isArray(value)) value.forEach((v) => this.noteFields(v, field));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) this.noteFields(v, k);
  }
}

/** `/api/medical-records` -> `medicalRecordId`: the field that names what the collection holds. */
const fieldOf = (collection: string) => {
  const last = collection.split('/').filter((p) => p && !p.startsWith('{')).pop() ?? '';
  const camel = last.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  return `${camel.replace(/ies$/, 'y').replace(/s$/, '')}Id`;
};

const PLAUSIBLE: Record<string, string[]> = {
  phone: ['(11) 98765-4321', '+55 21 99876-5432', '11987654321'],
  cpf: ['52998224725', '529.982.247-25', '11144477735'],
  name: ['Maria da Silva', 'João Araújo', 'Consulta'],
  timezone: ['America/Sao_Paulo', 'America/Manaus'],
  color: ['#3366ff', '#aa0000'],
};

/** Values for a JSON schema: mostly valid, sometimes another clinic's or no real id. */
function arbitrary(s: JsonSchema, depth = 0, field = ''): fc.Arbitrary<unknown> {
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return fc.oneof(...variants.map((v) => arbitrary(v, depth, field)));
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  const type = typesOf(s).find((t) => t !== 'null') ?? 'string';
  switch (type) {
    case 'string':
      // A reference resolved when the chain runs (the ids known by then): mostly clinic A's, some B's.
      if (s.format === 'uuid') return fc.oneof({ weight: 6, arbitrary: fc.nat(999).map((n) => `@ida${n}:${field}`) }, { weight: 1, arbitrary: fc.nat(999).map((n) => `@idb${n}`) }, { weight: 1, arbitrary: fc.uuid() });
      if (s.format === 'email') return fc.oneof({ weight: 4, arbitrary: fc.nat(99_999).map((n) => `pessoa${n}@example.com`) }, { weight: 1, arbitrary: fc.emailAddress() });
      if (s.format === 'date-time') return fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
      if (s.format === 'date') return fc.date({ min: new Date('1930-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.oneof(
        { weight: 7, arbitrary: fc.constantFrom(...(PLAUSIBLE[field] ?? ['Consulta de retorno', 'Observação: paciente em jejum', 'x'.repeat(Math.max(1, s.minLength ?? 1))])) },
        { weight: 1, arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40), unit: 'binary' }) },
      );
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1000, -1_000_000), max: Math.min(s.maximum ?? 100_000, 1_000_000) });
    case 'number':
      return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 100_000, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 3 || !s.items ? fc.constant([]) : fc.array(arbitrary(s.items, depth + 1, field), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const props = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, arbitrary(v, depth + 1, k)]));
      return fc.record(props, { requiredKeys: (s.required ?? []).filter((k) => k in props) });
    }
    default:
      return fc.anything({ maxDepth: 1 });
  }
}

/** A body for the schema, valid or with one defect (a wrong type, a missing or unknown field). */
function body(s: JsonSchema | undefined): fc.Arbitrary<unknown> {
  if (!s) return fc.constant(undefined);
  const valid = arbitrary(s);
  const keys = Object.keys(s.properties ?? {});
  if (keys.length === 0) return valid;
  const defect = fc.tuple(valid, fc.constantFrom(...keys), fc.constantFrom<unknown>(12345, 'texto', null, [], { x: 1 }, true, '\u0000', 'x'.repeat(5000)));
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    { weight: 1, arbitrary: defect.map(([v, k, bad]) => ({ ...(v as object), [k]: bad })) },
    { weight: 1, arbitrary: valid.map((v) => ({ ...(v as object), unknownField: 'x' })) },
  );
}

export function resourcesOf(doc: { paths: Record<string, Record<string, Operation>> }): Resource[] {
  const out: Resource[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    if (!ops.post || SKIPPED.test(path)) continue;
    const items = Object.entries(doc.paths)
      .filter(([p]) => p.startsWith(`${path}/{`) && !p.slice(path.length + 1).includes('/'))
      .flatMap(([p, itemOps]) => Object.entries(itemOps).map(([method, op]) => ({ method: method as Method, path: p, op })));
    out.push({ collection: path, create: ops.post, items });
  }
  return out;
}

export interface FuzzWorld {
  app: TestApp;
  a: TestClinic;
  b: TestClinic;
  actors: { name: string; agent: TestAgent }[];
  resources: Resource[];
  ledger: Ledger;
  findings: Finding[];
  /** Answers by status, and how many chains created something: a fuzzer refused at the door proves little. */
  stats: { statuses: Record<string, number>; created: number };
}

/** Two clinics, each with a patient; clinic A's members and a key with every scope as the actors. */
export async function fuzzWorld(app: TestApp): Promise<FuzzWorld> {
  const [a, b] = await Promise.all([createClinic({ app }), createClinic({ app })]);
  const ledger = new Ledger();
  for (const [side, clinic] of [['a', a], ['b', b]] as const) {
    const patient = await createPatient(clinic);
    ledger.note(side, JSON.stringify([clinic.id, patient.id, clinic.admin.id, clinic.professional.id, clinic.receptionist.id, clinic.doctorAdmin.id]));
    if (side === 'a') ledger.noteFields({ contactId: patient.id, professionalId: clinic.professional.id, userId: clinic.receptionist.id });
  }
  const key = await a.admin.agent.post('/api/api-keys').send({ name: 'fuzz', scopes: API_KEY_SCOPES });
  if (key.status !== 201) throw new Error(`api key: ${key.status}`);
  ledger.note('a', JSON.stringify(key.body));
  const bearer = request.agent(app.app).set('Authorization', `Bearer ${key.body.key as string}`) as unknown as TestAgent;
  const doc = (await a.admin.agent.get('/api/openapi.json')).body;
  const actors = [
    { name: 'admin', agent: a.admin.agent },
    { name: 'professional', agent: a.professional.agent },
    { name: 'receptionist', agent: a.receptionist.agent },
    { name: 'doctorAdmin', agent: a.doctorAdmin.agent },
    { name: 'api key', agent: bearer },
  ];
  return { app, a, b, actors, resources: resourcesOf(doc), ledger, findings: [], stats: { statuses: {}, created: 0 } };
}

/** Replaces the references an arbitrary drew (`@ida<n>`, `@idb<n>`) with ids each clinic has been shown. */
function resolve(world: FuzzWorld, value: unknown): unknown {
  if (typeof value === 'string') {
    const m = /^@id([ab])(\d+):?(\w*)$/.exec(value);
    if (!m) return value;
    const typed = m[1] === 'a' && m[3] ? [...(world.ledger.byField.get(m[3]) ?? [])].filter((id) => world.ledger.only('a', id)) : [];
    const pool = typed.length > 0 ? typed : world.ledger.idsOf(m[1] as 'a' | 'b');
    return pool[Number(m[2]) % pool.length] ?? ZERO_UUID;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(world, v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(world, v)]));
  return value;
}

/** The path with its last `{param}` the created id (when there is one), the others clinic A's ids. */
const fill = (world: FuzzWorld, path: string, ref: number, id?: string) => {
  const last = path.lastIndexOf('{');
  const withId = id && last >= 0 ? path.slice(0, last) + path.slice(last).replace(/\{\w+\}/, id) : path;
  return withId.replace(/\{\w+\}/g, () => resolve(world, `@ida${ref}`) as string);
};

async function call(world: FuzzWorld, side: 'a' | 'b', agent: TestAgent, method: Method, url: string, payload: unknown) {
  const req = (agent as unknown as Record<Method, (u: string) => request.Test>)[method](url).set('Origin', TEST_ORIGIN);
  const res = await (payload === undefined || method === 'get' || method === 'delete' ? req : req.send(payload as object));
  const text = res.text ?? '';
  world.stats.statuses[res.status] = (world.stats.statuses[res.status] ?? 0) + 1;
  const name = `${side} ${method.toUpperCase()} ${url}`;
  const integrationMissing = res.status === 503 && /integration_not_configured/.test(text);
  if (res.status >= 500 && !integrationMissing) world.findings.push({ kind: '5xx', request: `${name} ${JSON.stringify(payload)?.slice(0, 300)}`, status: res.status, detail: text.slice(0, 300) });
  // An id the caller sent is no leak when echoed back; one only the other clinic was shown is.
  const sent = `${url} ${JSON.stringify(payload) ?? ''}`.toLowerCase();
  const foreign = world.ledger.foreign(side, text);
  const leaked = foreign.filter((id) => !sent.includes(id.toLowerCase()));
  if (leaked.length > 0) world.findings.push({ kind: 'leak', request: name, status: res.status, detail: `ids of the other clinic: ${leaked.join(', ')}` });
  if (side === 'a') world.ledger.noteFields(res.body);
  // The other clinic's ids echoed back stay the other clinic's.
  world.ledger.note(side, foreign.reduce((t, id) => t.split(id).join(''), text));
  return res;
}

/** One chain: create in clinic A as an actor, then item operations as that actor and as clinic B. */
export function chain(world: FuzzWorld) {
  // Collections with item routes (the create -> read -> patch -> delete chains) drawn more often than actions.
  return fc
    .oneof(...world.resources.map((r) => ({ weight: r.items.length > 0 ? 4 : 1, arbitrary: fc.constant(r) })))
    .chain((resource) =>
      fc.record({
        resource: fc.constant(resource),
        actor: fc.constantFrom(...world.actors),
        ref: fc.nat(999),
        create: body(resource.create.requestBody?.content['application/json']?.schema),
        steps: fc.shuffledSubarray(resource.items).chain((steps) => fc.tuple(...steps.map((s) => fc.tuple(fc.constant(s), body(s.op.requestBody?.content['application/json']?.schema))))),
      }),
    )
    .map((plan) => ({
      toString: () => `${plan.actor.name}: POST ${plan.resource.collection} ${JSON.stringify(plan.create)?.slice(0, 200)} then ${plan.steps.map(([s]) => s.method).join(', ')}`,
      run: async () => {
        const created = await call(world, 'a', plan.actor.agent, 'post', fill(world, plan.resource.collection, plan.ref), resolve(world, plan.create) ?? {});
        const id = created.status < 300 && typeof created.body?.id === 'string' ? (created.body.id as string) : undefined;
        if (id) {
          world.stats.created++;
          world.ledger.noteFields({ [fieldOf(plan.resource.collection)]: id });
        }
        for (const [step, payload] of plan.steps) {
          const url = fill(world, step.path, plan.ref, id);
          const resolved = resolve(world, payload);
          await call(world, 'a', plan.actor.agent, step.method, url, resolved);
          if (!id) continue;
          const other = await call(world, 'b', world.b.doctorAdmin.agent, step.method, url, resolved);
          if (other.status < 300) world.findings.push({ kind: 'cross-clinic 2xx', request: `b ${step.method.toUpperCase()} ${url}`, status: other.status, detail: other.text.slice(0, 200) });
        }
      },
    }));
}
