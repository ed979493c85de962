import { and, eq, inArray } from 'drizzle-orm';
import fc from 'fast-check';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { CLINICAL_AI_STATEMENT_VERSION } from '../../server/modules/ai/defaults.js';
import { API_KEY_SCOPES, can, PERMISSIONS, type Actor as Caller, type Permission } from '../../server/lib/permissions.js';
import type { Module } from '../../server/modules/module.js';
import { messages } from '../../shared/schema/index.js';
import { FakeEvolution } from '../fakes/evolution.js';
import { FakeGoogle } from '../fakes/google.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { FakeWebhookReceiver } from '../fakes/webhook-receiver.js';
import { body, kindOfCollection, kindOfField, validValue, type JsonSchema } from './api-fuzz-values.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from './app.js';
import { addMember, anonymous, createClinic, type Member, type TestClinic } from './clinic.js';
import { addMessage, linkNumber, seedConversation, seedNumber } from './inbox.js';
import { createPatient } from './patients.js';
import { until } from './until.js';
import { evolutionEnv } from './whatsapp.js';

/**
 * A stateful fuzzer over /api/openapi.json (test/http/fuzz.test.ts, docs/reliability.md). Two
 * clinics, each with its members, an API key with every scope, a patient, a linked WhatsApp number
 * on a fake Evolution and a conversation; OpenAI and the webhook targets are fakes too. Chains:
 *
 * - a resource chain creates an item (its missing relations first) as a member or the key of one
 *   clinic, then runs operations on it in their lifecycle order (sometimes shuffled): every
 *   documented operation whose first path id is of that kind, so a record is signed and gets an
 *   addendum, a contact gets appointments, anamneses and an export; the other clinic's
 *   doctor-admin then tries each of those on the item;
 * - a walk runs a few operations of any kind on ids the clinic already has (lists, reports,
 *   settings, the seeded conversation).
 *
 * Bodies and queries are valid (api-fuzz-values.ts) or carry one defect; ids are typed by field
 * name and drawn from what the clinic has been shown, sometimes the other clinic's, sometimes none.
 * Invariants: no 5xx; no answer holds an id only the other clinic has been shown; no 2xx on an id
 * of the other clinic in the path, nor one that takes the other clinic's id in the body and
 * answers with it; the other clinic never gets a 2xx on an item. Every answer is counted per
 * operation, so the coverage (operations answered with a 2xx) is visible.
 */

type Side = 'a' | 'b';
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
interface DocOperation {
  description?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}

export interface Operation {
  key: string;
  method: Method;
  path: string;
  /** The kind of id each path parameter names, in order. */
  pathKinds: string[];
  query?: JsonSchema;
  body?: JsonSchema;
  /** Multipart only (a file upload). */
  upload: boolean;
  /** Takes an `Idempotency-Key` header. */
  idempotent: boolean;
  /** The permission the route asks for (`Access: ...` in its description), when it is one of the table's. */
  permission?: Permission;
  /** Needs no sign-in (`security: []`): called as a visitor, whose cookies (an invitation accepted signs in) stay out of the actor's. */
  public: boolean;
}

export interface Resource {
  create: Operation;
  kind: string;
  /** Operations whose first path id is of the created kind, in lifecycle order. */
  items: Operation[];
}

export interface Finding {
  kind: '5xx' | 'leak' | 'cross-clinic 2xx' | 'lost message' | 'duplicate send';
  request: string;
  status: number;
  detail: string;
}

export interface OperationStats {
  ok: number;
  refused: number;
  failed: number;
  /** Error codes of the 4xx answers, for the report of operations never answered with a 2xx. */
  codes: Record<string, number>;
  /** The last refused request and its answer (`FUZZ_VERBOSE=1` prints it). */
  sample?: string;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ZERO_UUID = '00000000-0000-4000-8000-000000000000';
/** Routes whose side effects end the fuzzing sessions, or that only external senders call. */
const SKIPPED = /^\/api\/(auth|webhooks)\b/;
/** Operations that would disable what the chains stand on (an actor, the key, the seeded number). */
const GUARDED = /^(PATCH|DELETE) \/api\/team\/\{userId\}$|^DELETE \/api\/api-keys\/\{id\}$|^(DELETE|POST) \/api\/whatsapp\/numbers\/\{id\}(\/logout)?$/;
/** Last in a lifecycle: after them the item is gone or blank. */
const FINAL = /^DELETE |\/anonymize$/;

const isId = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);

/** Who was shown which id (an id seen by one clinic only is that clinic's), and each clinic's ids by kind. */
class Ledger {
  private readonly seen = new Map<string, Set<Side>>();
  private readonly kinds = { a: new Map<string, Set<string>>(), b: new Map<string, Set<string>>() };
  /** Ids the guarded operations must not take. */
  readonly guarded = new Set<string>();

  note(side: Side, text: string) {
    for (const id of text.match(UUID) ?? []) {
      const sides = this.seen.get(id.toLowerCase()) ?? new Set();
      this.seen.set(id.toLowerCase(), sides.add(side));
    }
  }
  /** Ids in `text` that only the other side has been shown. */
  foreign(side: Side, text: string): string[] {
    return (text.match(UUID) ?? []).filter((id) => {
      const sides = this.seen.get(id.toLowerCase());
      return sides !== undefined && sides.size === 1 && !sides.has(side);
    });
  }
  only(side: Side, id: string): boolean {
    const sides = this.seen.get(id.toLowerCase());
    return sides !== undefined && sides.size === 1 && sides.has(side);
  }
  add(side: Side, kind: string, value: string) {
    const set = this.kinds[side].get(kind) ?? new Set();
    this.kinds[side].set(kind, set.add(value));
  }
  drop(side: Side, value: string) {
    for (const set of this.kinds[side].values()) set.delete(value);
  }
  /** The side's values of a kind (or of a kind named like it: `delivery` for `webhookDelivery`), its own only. */
  pool(side: Side, kind: string): string[] {
    const own = (values: Iterable<string>) => [...values].filter((v) => !isId(v) || this.only(side, v));
    const exact = own(this.kinds[side].get(kind) ?? []);
    if (exact.length > 0) return exact;
    const cap = (k: string) => k.charAt(0).toUpperCase() + k.slice(1);
    return own([...this.kinds[side]].filter(([k]) => k.endsWith(cap(kind)) || kind.endsWith(cap(k))).flatMap(([, v]) => [...v]));
  }
  has(side: Side, kind: string) {
    return this.pool(side, kind).length > 0;
  }
  /** Any id of the side, for a field whose kind it has none of. */
  anyOf(side: Side): string[] {
    return [...this.seen].filter(([, s]) => s.size === 1 && s.has(side)).map(([id]) => id);
  }
  /** Records the ids of an answer by kind: `id` is the answer's kind, `contactId` a contact, `stage: {id}` a stage. */
  noteKinds(side: Side, value: unknown, kind: string) {
    if (Array.isArray(value)) return value.forEach((v) => this.noteKinds(side, v, kind));
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      if (k === 'id' && isId(v)) this.add(side, kind, v);
      else if (k === 'token' && typeof v === 'string') this.add(side, 'token', v);
      else if (/Ids?$/.test(k)) [v].flat().filter(isId).forEach((id) => this.add(side, kindOfField(k), id));
      else this.noteKinds(side, v, k === 'items' ? kind : kindOfCollection(`/${k}`));
    }
  }
}

export function operationsOf(doc: { paths: Record<string, Record<string, DocOperation>> }): Operation[] {
  return Object.entries(doc.paths)
    .filter(([path]) => !SKIPPED.test(path))
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]): Operation => {
        const key = `${method.toUpperCase()} ${path}`;
        const pathKinds = [...path.matchAll(/\{(\w+)\}/g)].map((m) => (m[1] === 'id' ? kindOfCollection(path.slice(0, m.index - 1)) : kindOfField(m[1] as string, key)));
        const queries = (op.parameters ?? []).filter((p) => p.in === 'query');
        const query = queries.length > 0 ? { type: 'object', properties: Object.fromEntries(queries.map((p) => [p.name, p.schema])), required: queries.filter((p) => p.required).map((p) => p.name) } : undefined;
        const content = op.requestBody?.content ?? {};
        const idempotent = (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'Idempotency-Key');
        const access = /^Access: ([a-z_:]+)/.exec(op.description ?? '')?.[1];
        const permission = access && access in PERMISSIONS ? (access as Permission) : undefined;
        const upload = !content['application/json'] && Boolean(content['multipart/form-data']);
        return { key, method: method as Method, path, pathKinds, query, body: content['application/json']?.schema, upload, idempotent, permission, public: op.security?.length === 0 };
      }),
    );
}

const lifecycle = (ops: Operation[]) => [...ops.filter((op) => !FINAL.test(op.key)), ...ops.filter((op) => FINAL.test(op.key))];

/** Each documented creation (`POST` not ending in an id) with the operations on what it creates. */
export function resourcesOf(operations: Operation[]): Resource[] {
  return operations
    .filter((op) => op.method === 'post' && !op.path.endsWith('}'))
    .map((create) => {
      const kind = kindOfCollection(create.path);
      return { create, kind, items: lifecycle(operations.filter((op) => op !== create && op.pathKinds[0] === kind)) };
    });
}

/** Kinds no route creates (a conversation comes from WhatsApp, a team member from an invitation): chains start on a seeded one. */
export function fixturesOf(operations: Operation[], resources: Resource[]): { kind: string; items: Operation[] }[] {
  const created = new Set(resources.map((r) => r.kind));
  const kinds = [...new Set(operations.map((op) => op.pathKinds[0]))].filter((k): k is string => k !== undefined && !created.has(k));
  return kinds.map((kind) => ({ kind, items: lifecycle(operations.filter((op) => op.pathKinds[0] === kind)) }));
}

interface Actor {
  name: string;
  side: Side;
  agent: TestAgent;
  /** Who the server sees, to tell which operations it may run. */
  caller: Caller;
}

const callerOf = (m: Member): Caller => ({ type: 'user', userId: m.id, role: m.role, isProfessional: m.isProfessional });
const allowed = (actor: Actor, op: Operation) => !op.permission || can(actor.caller, op.permission);

export interface FuzzWorld {
  app: TestApp;
  clinics: Record<Side, TestClinic>;
  actors: Actor[];
  operations: Operation[];
  resources: Resource[];
  fixtures: { kind: string; items: Operation[] }[];
  ledger: Ledger;
  findings: Finding[];
  stats: { byOperation: Map<string, OperationStats>; chains: number; created: number; requests: number; probes: Record<string, number>; mailsRead: number };
  receiver: FakeWebhookReceiver;
  evolution: FakeEvolution;
  close(): Promise<void>;
}

/** A clinic's fixtures: a patient writing to a linked number, a reply that failed, the doctor's calendar, the assistant on, spare members; its actors. */
async function seedClinic(app: TestApp, evolution: FakeEvolution, google: FakeGoogle, ledger: Ledger, side: Side, clinic: TestClinic): Promise<Actor[]> {
  const patient = await createPatient(clinic);
  const number = await seedNumber(clinic);
  await linkNumber(evolution, number);
  const conversation = await seedConversation(clinic, number, { contact: patient });
  // A reply the gateway never took (no gateway id): what a resend takes.
  const failed = await addMessage(clinic, conversation, { direction: 'outbound', sender: 'user', text: 'Sua consulta está confirmada.', status: 'failed', externalId: null });
  ledger.add(side, 'message', failed.id);
  // The doctor's Google Calendar, linked the way the browser does it (consent, then Google's redirect).
  const connect = await clinic.doctorAdmin.agent.get('/api/calendar/google/connect');
  const linked = await anonymous(app).get(google.consent(connect.body.url as string).redirect);
  if (linked.status !== 302) throw new Error(`calendar: ${linked.status}`);
  // The professionals' record assistant, switched on as the doctor would (statement read and accepted).
  const ai = await clinic.doctorAdmin.agent.put('/api/ai/config').send({ clinicalAi: { enabled: true, acceptedStatementVersion: CLINICAL_AI_STATEMENT_VERSION } });
  if (ai.status !== 200) throw new Error(`ai config: ${ai.status} ${ai.text}`);
  const key = await clinic.admin.agent.post('/api/api-keys').send({ name: 'fuzz', scopes: API_KEY_SCOPES });
  if (key.status !== 201) throw new Error(`api key: ${key.status}`);
  const members = [clinic.admin, clinic.professional, clinic.receptionist, clinic.doctorAdmin];
  // Team changes need someone to change who is not an actor.
  const spare = await Promise.all([addMember(app, clinic.id, 'professional', true, 'spare'), addMember(app, clinic.id, 'receptionist', false, 'spare')]);
  ledger.note(side, JSON.stringify([clinic.id, patient.id, number.id, conversation.id, failed.id, key.body, [...members, ...spare].map((m) => m.id)]));
  for (const id of [number.id, key.body.id as string, ...members.map((m) => m.id)]) ledger.guarded.add(id);
  ledger.add(side, 'contact', patient.id);
  ledger.add(side, 'number', number.id);
  ledger.add(side, 'conversation', conversation.id);
  for (const m of [...members, ...spare]) for (const kind of m.isProfessional ? ['user', 'professional'] : ['user']) ledger.add(side, kind, m.id);
  const bearer = request.agent(app.app).set('Authorization', `Bearer ${key.body.key as string}`) as unknown as TestAgent;
  return [
    ...members.map((m) => ({ name: `${side} ${m.role}${m.isProfessional && m.role === 'admin' ? ' (professional)' : ''}`, side, agent: m.agent, caller: callerOf(m) })),
    { name: `${side} api key`, side, agent: bearer, caller: { type: 'api_key', apiKeyId: key.body.id as string, scopes: API_KEY_SCOPES } },
  ];
}

/** The app with every integration on fakes, two seeded clinics, and the ledger warmed by each clinic's lists. */
export async function fuzzWorld(opts: { modules?: Module[] } = {}): Promise<FuzzWorld> {
  const [evolution, openai, receiver, google] = await Promise.all([new FakeEvolution().start(), new FakeOpenAI().start(), new FakeWebhookReceiver().start(), new FakeGoogle().start()]);
  google.addCalendar('agenda@clinica.test', { primary: true });
  const env = { ...evolutionEnv(evolution), ...google.env(), OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseUrl, OUTBOUND_ALLOW_HOSTS: '127.0.0.1' };
  const app = await buildTestApp({ env, modules: opts.modules });
  // Google's push notifications reach the app the way a request from the internet would.
  google.deliver = async (_address, headers) => {
    const res = await request(app.app).post('/api/webhooks/google-calendar').set(headers);
    return { status: res.status, body: res.body };
  };
  const [a, b] = await Promise.all([createClinic({ app }), createClinic({ app })]);
  const ledger = new Ledger();
  const seeded = await Promise.all([seedClinic(app, evolution, google, ledger, 'a', a), seedClinic(app, evolution, google, ledger, 'b', b)]);
  // In a fixed order, whatever order the seeding finished in: a seed replays the same chains.
  const actors = seeded.flat();
  const doc = (await a.admin.agent.get('/api/openapi.json')).body;
  const operations = operationsOf(doc);
  const resources = resourcesOf(operations);
  const world: FuzzWorld = {
    app,
    clinics: { a, b },
    actors,
    operations,
    resources,
    fixtures: fixturesOf(operations, resources),
    ledger,
    findings: [],
    stats: { byOperation: new Map(operations.map((op) => [op.key, { ok: 0, refused: 0, failed: 0, codes: {} }])), chains: 0, created: 0, requests: 0, probes: {}, mailsRead: 0 },
    receiver,
    evolution,
    close: async () => {
      await app.close();
      await Promise.all([evolution.stop(), openai.stop(), receiver.stop(), google.stop()]);
    },
  };
  // The lists each clinic starts with (pipeline stages, anamnesis and AI templates, the team) fill the ledger.
  const lists = operations.filter((o) => o.method === 'get' && o.pathKinds.length === 0 && !o.query?.required?.length);
  const answers = await Promise.all((['a', 'b'] as const).flatMap((side) => lists.map(async (op) => ({ side, op, res: await world.clinics[side].doctorAdmin.agent.get(op.path) }))));
  for (const { side, op, res } of answers) {
    ledger.note(side, res.text ?? '');
    ledger.noteKinds(side, res.body, kindOfCollection(op.path));
  }
  return world;
}

const other = (side: Side): Side => (side === 'a' ? 'b' : 'a');

/** Replaces the references a value drew (`@ref:own|other:<n>:<kind>`, `@url:webhook`) with real ids and URLs. */
function resolve(world: FuzzWorld, side: Side, op: Operation, value: unknown, guard = false): unknown {
  if (typeof value === 'string') {
    if (value === '@url:webhook') return `${world.receiver.url}/hook`;
    const email = /^@email:(\d+)$/.exec(value);
    if (email) return `convite${email[1]}.${side}@example.com`;
    const all = /^@all(-reversed)?:(\w+)$/.exec(value);
    if (all) return all[1] ? world.ledger.pool(side, all[2] as string).reverse() : world.ledger.pool(side, all[2] as string);
    const m = /^@ref:(own|other):(\d+):(\w*)$/.exec(value);
    if (!m) return value;
    const whose = m[1] === 'own' ? side : other(side);
    const typed = world.ledger.pool(whose, kindOfField(m[3] as string, op.key)).filter((id) => !guard || !world.ledger.guarded.has(id));
    const pool = typed.length > 0 || guard ? typed : world.ledger.anyOf(whose);
    return pool[Number(m[2]) % pool.length] ?? ZERO_UUID;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(world, side, op, v, guard));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(world, side, op, v, guard)]));
  return value;
}

/**
 * The path with its ids: the first the given one (the chain's item) when there is one, the others
 * drawn by kind. A public route's token is the credential (whoever holds it may use it): only the
 * clinic's own are drawn.
 */
function fill(world: FuzzWorld, side: Side, op: Operation, refs: string[], first?: string) {
  let i = 0;
  return op.path.replace(/\{\w+\}/g, () => {
    const at = i++;
    if (at === 0 && first) return first;
    const drawn = refs[at % refs.length] as string;
    const ref = op.public ? drawn.replace('@ref:other:', '@ref:own:') : drawn;
    return encodeURIComponent(resolve(world, side, op, ref.replace(/:\w*$/, `:${op.pathKinds[at]}`), GUARDED.test(op.key)) as string);
  });
}

/** The kinds a resolved value would take from the ledger and that the side has none of yet. */
const missingKinds = (world: FuzzWorld, side: Side, op: Operation, value: unknown): string[] => {
  const text = JSON.stringify(value) ?? '';
  return [...new Set([...text.matchAll(/@ref:own:\d+:(\w+)/g)].map((m) => kindOfField(m[1] as string, op.key)))].filter((k) => !world.ledger.has(side, k));
};

const FILE = { data: Buffer.from('Laudo: hemograma sem alterações.\n'), filename: 'laudo.txt', contentType: 'text/plain' };

async function call(world: FuzzWorld, actor: Actor, op: Operation, url: string, payload: unknown, query: unknown, idempotencyKey?: string, probe = false) {
  const side = actor.side;
  const agent = op.public ? anonymous(world.app) : actor.agent;
  let req = (agent as unknown as Record<Method, (u: string) => request.Test>)[op.method](url).set('Origin', TEST_ORIGIN);
  if (idempotencyKey) req = req.set('Idempotency-Key', idempotencyKey);
  if (query && typeof query === 'object') req = req.query(query as object);
  if (op.upload) req = req.attach('file', FILE.data, { filename: FILE.filename, contentType: FILE.contentType });
  else if (payload !== undefined) req = req.send(payload as object);
  const res = await req.redirects(0);
  world.stats.requests++;
  const text = `${res.text ?? ''} ${res.headers.location ?? ''}`;
  const name = `${actor.name}: ${op.method.toUpperCase()} ${url}${query ? `?${new URLSearchParams(query as Record<string, string>)}` : ''}`;
  const stats = world.stats.byOperation.get(op.key) as OperationStats;
  const code = `${res.status} ${(res.body as { error?: { code?: string } })?.error?.code ?? ''}`.trim();
  if (probe) {
    // By answer, and by operation for any answer but a 404: a 403 or 409 there says the item exists.
    const by = res.status === 404 ? code : `${code} ${op.key}`;
    world.stats.probes[by] = (world.stats.probes[by] ?? 0) + 1;
  } else if (res.status < 400) stats.ok++;
  else if (res.status < 500) {
    stats.refused++;
    stats.codes[code] = (stats.codes[code] ?? 0) + 1;
    stats.sample = `${name} ${JSON.stringify(payload)?.slice(0, 300)} -> ${res.text?.slice(0, 300)}`;
  } else stats.failed++;
  const integrationMissing = res.status === 503 && /integration_not_configured/.test(text);
  const sent = `${url} ${JSON.stringify(query) ?? ''} ${JSON.stringify(payload) ?? ''}`;
  if (res.status >= 500 && !integrationMissing) world.findings.push({ kind: '5xx', request: `${name} ${JSON.stringify(payload)?.slice(0, 300)}`, status: res.status, detail: text.slice(0, 300) });
  // An id the caller sent is no leak when echoed back; one only the other clinic was shown is.
  const foreign = world.ledger.foreign(side, text);
  const leaked = foreign.filter((id) => !sent.toLowerCase().includes(id.toLowerCase()));
  if (leaked.length > 0) world.findings.push({ kind: 'leak', request: name, status: res.status, detail: `ids of the other clinic: ${leaked.join(', ')}` });
  // The other clinic's ids in the path, or taken from the body and stored (echoed), must not pass.
  if (res.status < 300 && !probe) {
    const inPath = world.ledger.foreign(side, url);
    const stored = foreign.filter((id) => !inPath.includes(id) && !leaked.includes(id));
    if (inPath.length > 0 || stored.length > 0) world.findings.push({ kind: 'cross-clinic 2xx', request: `${name} ${JSON.stringify(payload)?.slice(0, 300)}`, status: res.status, detail: `the other clinic's ${[...inPath, ...stored].join(', ')} accepted: ${text.slice(0, 200)}` });
  }
  noteInvitations(world);
  if (!probe && res.status < 400) {
    world.ledger.noteKinds(side, res.body, kindOfCollection(op.path.replace(/\/\{\w+\}$/, '')));
    const token = /\/files\/content\/([^/?"\s]+)/.exec(res.headers.location ?? '')?.[1];
    if (token) world.ledger.add(side, 'fileToken', token);
    if (op.method === 'delete') for (const id of url.match(UUID) ?? []) world.ledger.drop(side, id);
  }
  // The other clinic's ids echoed back stay the other clinic's.
  world.ledger.note(side, foreign.reduce((t, id) => t.split(id).join(''), text));
  return res;
}

/** Invitation links go by mail (through the queue): their tokens join the inviting clinic's, named by the address. */
function noteInvitations(world: FuzzWorld) {
  const sent = world.app.mail.sent;
  for (; world.stats.mailsRead < sent.length; world.stats.mailsRead++) {
    const mail = sent[world.stats.mailsRead];
    const token = /\/convite\?token=([^\s&]+)/.exec(mail?.text ?? '')?.[1];
    const side = /^convite\d+\.([ab])@example\.com$/.exec(mail?.to ?? '')?.[1] as Side | undefined;
    if (token && side) world.ledger.add(side, 'token', decodeURIComponent(token));
  }
}

interface Step {
  op: Operation;
  body: unknown;
  query: unknown;
  /** Mostly a fresh key, sometimes one of a few reused ones (a retry, or a key reused for another request). */
  idempotencyKey?: string;
}

const idempotencyKey = fc.oneof({ weight: 3, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.nat(9).map((n) => `fuzz-retry-${n}`) });

const stepOf = (op: Operation): fc.Arbitrary<Step> =>
  fc.record({
    op: fc.constant(op),
    body: body(op.key, op.body),
    query: op.query ? (op.body ? validValue(`${op.key} query`, op.query) : body(op.key, op.query)) : fc.constant(undefined),
    idempotencyKey: op.idempotent ? idempotencyKey : fc.constant(undefined),
  });

/** Creates an item of the kind with a valid body when the side has none yet (a chain's missing relation). */
async function provide(world: FuzzWorld, actor: Actor, kind: string, seed: number, depth: number): Promise<void> {
  const resource = world.resources.find((r) => r.kind === kind);
  if (!resource || depth > 2) return;
  const [payload] = fc.sample(validValue(resource.create.key, resource.create.body ?? { type: 'object' }), { seed, numRuns: 1 });
  await run(world, actor, { op: resource.create, body: payload, query: undefined }, [`@ref:own:${seed % 1000}:`], undefined, depth + 1);
}

/** One step as the actor: missing relations created first, then the request with its references resolved. */
async function run(world: FuzzWorld, actor: Actor, step: Step, refs: string[], item?: string, depth = 0) {
  const side = actor.side;
  const pathRefs = step.op.pathKinds.slice(item ? 1 : 0).map((k) => `@ref:own:0:${k}`);
  for (const kind of missingKinds(world, side, step.op, [step.body, step.query, pathRefs])) await provide(world, actor, kind, refs.length + kind.length, depth);
  const url = fill(world, side, step.op, refs, item);
  const payload = resolve(world, side, step.op, step.body);
  const query = resolve(world, side, step.op, step.query);
  return { url, payload, query, res: await call(world, actor, step.op, url, payload, query, step.idempotencyKey) };
}

const refsArb = fc.array(fc.oneof({ weight: 12, arbitrary: fc.nat(999).map((n) => `@ref:own:${n}:`) }, { weight: 1, arbitrary: fc.nat(999).map((n) => `@ref:other:${n}:`) }), { minLength: 2, maxLength: 2 });

/** A resource chain, a chain on a seeded item (fixture) or a walk, as an actor of either clinic (mostly clinic A's). */
export function chain(world: FuzzWorld) {
  const stepsOf = (items: Operation[]) => fc.oneof({ weight: 3, arbitrary: fc.subarray(items) }, { weight: 1, arbitrary: fc.shuffledSubarray(items) }).chain((ops) => fc.tuple(...ops.map(stepOf)));
  const resources = world.resources.map((r) => ({ weight: r.items.length > 0 ? 4 : 1, arbitrary: fc.constant(r) }));
  const resourceChain = fc.oneof(...resources).chain((resource) => fc.record({ kind: fc.constant('resource' as const), resource: fc.constant(resource), create: stepOf(resource.create), steps: stepsOf(resource.items) }));
  const fixtures = world.fixtures.map((f) => ({ weight: 1, arbitrary: fc.constant(f) }));
  const fixtureChain = fixtures.length > 0 ? fc.oneof(...fixtures).chain((fixture) => fc.record({ kind: fc.constant('fixture' as const), fixture: fc.constant(fixture), pick: fc.nat(999), steps: stepsOf(fixture.items) })) : undefined;
  const walk = fc.record({ kind: fc.constant('walk' as const), steps: fc.array(fc.constantFrom(...world.operations).chain(stepOf), { minLength: 1, maxLength: 6 }) });
  // Clinic A's more often than B's; mostly one allowed to run the chain's first operation, sometimes any (a 403 to check).
  const actorFor = (op: Operation | undefined) => {
    const weighted = (actors: Actor[]) => fc.oneof(...actors.map((a) => ({ weight: a.side === 'a' ? 3 : 1, arbitrary: fc.constant(a) })));
    const fit = world.actors.filter((a) => op && allowed(a, op));
    return fit.length > 0 ? fc.oneof({ weight: 3, arbitrary: weighted(fit) }, { weight: 1, arbitrary: weighted(world.actors) }) : weighted(world.actors);
  };
  const plans = fc.oneof({ weight: 4, arbitrary: resourceChain }, { weight: 2, arbitrary: walk }, ...(fixtureChain ? [{ weight: 1, arbitrary: fixtureChain }] : []));
  const planned = plans.chain((plan) => fc.record({ plan: fc.constant(plan), refs: refsArb, actor: actorFor(plan.kind === 'resource' ? plan.create.op : plan.steps[0]?.op) }));
  return planned.map(({ actor, refs, plan }) => ({
    toString: () => `${actor.name}: ${plan.kind === 'resource' ? `${plan.resource.create.key} ${JSON.stringify(plan.create.body)?.slice(0, 200)} then ` : `${plan.kind} `}${plan.steps.map((s) => s.op.key).join(', ')}`,
    run: async () => {
      world.stats.chains++;
      if (plan.kind === 'walk') {
        for (const step of plan.steps) await run(world, actor, step, refs);
        return;
      }
      let id: string | undefined;
      if (plan.kind === 'fixture') {
        const pool = world.ledger.pool(actor.side, plan.fixture.kind).filter((v) => !world.ledger.guarded.has(v));
        id = pool[plan.pick % pool.length];
      } else {
        const created = await run(world, actor, plan.create, refs);
        id = created.res.status < 300 && typeof created.res.body?.id === 'string' ? (created.res.body.id as string) : undefined;
        if (id) world.stats.created++;
      }
      const prober = world.actors.find((a) => a.side === other(actor.side) && a.name.endsWith('(professional)')) as Actor;
      for (const step of plan.steps) {
        const done = await run(world, actor, step, refs, id);
        // A public route's token is the credential: whoever holds it may use it.
        if (!id || step.op.public) continue;
        const probe = await call(world, prober, step.op, done.url, done.payload, done.query, step.idempotencyKey, true);
        if (probe.status < 300) world.findings.push({ kind: 'cross-clinic 2xx', request: `${prober.name}: ${step.op.method.toUpperCase()} ${done.url}`, status: probe.status, detail: probe.text.slice(0, 200) });
      }
    },
  }));
}

/** Operations answered with a 2xx at least once, of all fuzzed, and the ones never, with their commonest refusals. */
export function coverage(world: FuzzWorld) {
  const all = [...world.stats.byOperation];
  const reached = all.filter(([, s]) => s.ok > 0).length;
  const top = (codes: Record<string, number>) =>
    Object.entries(codes)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 2)
      .map(([c, n]) => `${c} x${n}`)
      .join(', ');
  const verbose = process.env.FUZZ_VERBOSE === '1';
  const lines = all.map(
    ([key, s]) =>
      `${s.ok > 0 ? ' ' : '!'} ${key.padEnd(62)} 2xx ${String(s.ok).padStart(4)}  4xx ${String(s.refused).padStart(4)}${s.failed > 0 ? `  5xx ${s.failed}` : ''}${s.ok === 0 && s.refused > 0 ? `  (${top(s.codes)})${verbose ? `\n      ${s.sample}` : ''}` : ''}`,
  );
  return { reached, total: all.length, share: reached / all.length, table: lines.join('\n') };
}

/**
 * After the chains, what the WhatsApp sends came to: every message the app took ends sent or
 * failed (none stays pending: lost), and the gateway received each at most once (a second send
 * of a message leaves a gateway id that no stored message holds: duplicate).
 */
export async function deliveryFindings(world: FuzzWorld, waitMs = 20_000): Promise<Finding[]> {
  const db = world.app.infra.db;
  const clinicIds = [world.clinics.a.id, world.clinics.b.id];
  const outbound = () => db.select().from(messages).where(and(inArray(messages.clinicId, clinicIds), eq(messages.direction, 'outbound')));
  const pending = async () => (await outbound()).filter((m) => m.status === 'pending');
  await until(async () => (await pending()).length === 0, waitMs, 100).catch(() => undefined);
  const findings: Finding[] = (await pending()).map((m) => ({ kind: 'lost message', request: `message ${m.id}`, status: 0, detail: `still pending, sendingAt ${m.sendingAt?.toISOString() ?? 'null'}` }));
  const stored = new Set((await outbound()).map((m) => m.externalId));
  for (const sent of world.evolution.sent.filter((s) => !stored.has(s.externalId))) {
    findings.push({ kind: 'duplicate send', request: `${sent.route} on ${sent.instance}`, status: 0, detail: `gateway id ${sent.externalId} is on no stored message: ${JSON.stringify(sent.request).slice(0, 200)}` });
  }
  return findings;
}
