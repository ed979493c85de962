import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { LocalHttpFake } from './local-http-fake.js';

/**
 * An OpenAI-compatible server on 127.0.0.1 speaking the protocol the `openai` SDK speaks
 * (test/fixtures/openai/ holds recorded samples): `POST /embeddings` (base64 little-endian
 * float32 when asked, as the SDK does by default, or floats; `dimensions`), `POST
 * /chat/completions` (scripted text or tool calls, optionally streamed as SSE), errors in
 * OpenAI's shape (429 with retry-after, 500; `failAll` for an outage), slow answers, a log of every request.
 *
 * Embeddings are deterministic and meaningful enough to rank: a bag of words (accents folded,
 * words cut to a 5-letter stem) hashed into the dimension, so texts sharing words are near.
 */

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), 'utf8')) as { status: number; headers: Record<string, string>; body: unknown };

export interface LoggedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface ScriptedFailure {
  status: 429 | 500 | 503 | 400 | 401;
  /** Seconds in `retry-after` (429). */
  retryAfter?: number;
  /** Only for requests whose path ends with this (`/embeddings`); any by default. */
  path?: string;
}

export type ChatReply = { content: string } | { toolCalls: { name: string; arguments: Record<string, unknown> }[] };

const stem = (word: string) => word.slice(0, 5);

/** Words of a text as the fake's embeddings see them. */
export function bagOfWords(text: string): string[] {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 3)
    .map(stem);
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The fake's embedding of a text: unit length, `dimensions` long. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const v = new Float32Array(dimensions);
  for (const word of bagOfWords(text)) {
    for (let j = 0; j < 3; j++) {
      const h = fnv1a(`${word}#${j}`);
      const i = h % dimensions;
      v[i] = (v[i] ?? 0) + (h & 0x80000000 ? -1 : 1);
    }
  }
  let norm = Math.hypot(...v);
  if (norm === 0) {
    v[0] = 1;
    norm = 1;
  }
  return Array.from(v, (x) => x / norm);
}

const toBase64 = (v: number[]) => Buffer.from(new Float32Array(v).buffer).toString('base64');

export class FakeOpenAI extends LocalHttpFake {
  readonly requests: LoggedRequest[] = [];
  /** Failures answered to the next matching requests, in order. */
  readonly failures: ScriptedFailure[] = [];
  /** Replies of the next chat completions; an echo of the last user message when empty. */
  readonly chatReplies: ChatReply[] = [];
  /** Builds the reply from the request when no scripted reply is queued (e.g. naming the sources it was given); the echo otherwise. */
  chatResponder: ((body: Record<string, unknown>) => ChatReply) | undefined;
  /** While set, every request answers this failure (a provider outage); `failures` is used up first. */
  failAll: ScriptedFailure | undefined;
  /** Tokens reported in the usage of every successful answer: what a provider would bill. */
  servedTokens = 0;
  /** Delay before each answer. */
  delayMs = 0;
  /** Dimension answered when the request names none (text-embedding-3-small's). */
  defaultDimensions = 1536;
  protected readonly server = createServer((req, res) => void this.handle(req, res));

  constructor(readonly apiKey = 'fake-openai-key') {
    super();
  }

  /** Base URL for the SDK (`OPENAI_BASE_URL`). */
  get baseUrl() {
    return `${this.url}/v1`;
  }

  requestsTo(path: string) {
    return this.requests.filter((r) => r.path.endsWith(path));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString('utf8')));
      req.on('end', () => resolve(data));
    });
    const path = (req.url ?? '').split('?')[0] ?? '';
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return this.error(res, 400, { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null });
    }
    this.requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return this.error(res, 401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
    }
    const failure = this.failures.findIndex((f) => !f.path || path.endsWith(f.path));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      return this.fail(res, f as ScriptedFailure);
    }
    if (this.failAll && (!this.failAll.path || path.endsWith(this.failAll.path))) return this.fail(res, this.failAll);
    if (req.method === 'POST' && path.endsWith('/embeddings')) return this.embeddings(res, body);
    if (req.method === 'POST' && path.endsWith('/chat/completions')) return this.chat(res, body);
    this.error(res, 404, { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null });
  }

  private fail(res: ServerResponse, f: ScriptedFailure) {
    const sample = fixture(f.status === 429 ? 'error.429.rate-limit.json' : 'error.500.json');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': `req_fake_${this.requests.length}` };
    if (f.status === 429) headers['retry-after'] = String(f.retryAfter ?? 0);
    const body = f.status === 429 || f.status >= 500 ? sample.body : { error: { message: 'Invalid request', type: 'invalid_request_error', param: null, code: null } };
    res.writeHead(f.status, headers).end(JSON.stringify(body));
  }

  private error(res: ServerResponse, status: number, error: Record<string, unknown>) {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
  }

  private embeddings(res: ServerResponse, body: Record<string, unknown>) {
    const input = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? (body.input as unknown[]) : undefined;
    if (!input || input.length === 0 || input.some((i) => typeof i !== 'string' || i.length === 0)) {
      return this.error(res, 400, { message: "'$.input' is invalid.", type: 'invalid_request_error', param: 'input', code: null });
    }
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : this.defaultDimensions;
    const base64 = body.encoding_format === 'base64';
    const tokens = input.reduce<number>((n, text) => n + bagOfWords(text as string).length, 0);
    this.servedTokens += tokens;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        object: 'list',
        data: input.map((text, index) => {
          const vector = fakeEmbedding(text as string, dimensions);
          return { object: 'embedding', index, embedding: base64 ? toBase64(vector) : vector };
        }),
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      }),
    );
  }

  private chat(res: ServerResponse, body: Record<string, unknown>) {
    const messages = Array.isArray(body.messages) ? (body.messages as { role: string; content?: unknown }[]) : [];
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const reply = this.chatReplies.shift() ?? this.chatResponder?.(body) ?? { content: `Recebido: ${typeof lastUser?.content === 'string' ? lastUser.content : ''}` };
    const id = `chatcmpl-fake${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const toolCalls = 'toolCalls' in reply ? reply.toolCalls.map((c, i) => ({ id: `call_fake_${this.requests.length}_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) : undefined;
    const content = 'content' in reply ? reply.content : null;
    const finish = toolCalls ? 'tool_calls' : 'stop';
    const usage = { prompt_tokens: 20 * messages.length, completion_tokens: 10, total_tokens: 20 * messages.length + 10 };
    this.servedTokens += usage.total_tokens;
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      const chunk = (delta: unknown, finishReason: string | null) => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
      const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
      send(chunk({ role: 'assistant', content: '' }, null));
      if (content) for (const piece of content.match(/\S+\s*/g) ?? []) send(chunk({ content: piece }, null));
      toolCalls?.forEach((c, index) => send(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: c.function.arguments } }] }, null)));
      send(chunk({}, finish));
      if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, logprobs: null, finish_reason: finish }],
        usage,
      }),
    );
  }
}
