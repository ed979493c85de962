import OpenAI from 'openai';
import type { Config } from '../config.js';

/**
 * The model provider, built once from config: an OpenAI client (any OpenAI-compatible server
 * through OPENAI_BASE_URL: OpenAI, an in-house Ollama or vLLM) and the model names. Absent without
 * OPENAI_API_KEY: callers fall back (full-text search) or answer 503 `integration_not_configured`.
 */
export interface AiProvider {
  client: OpenAI;
  chatModel: string;
  /** The WhatsApp assistant's wait for one answer (OPENAI_REPLY_TIMEOUT_MS). */
  replyTimeoutMs: number;
  /** Shared by this process's assistant calls: a provider refusing or failing is left alone for a while. */
  circuit: ModelCircuit;
  embeddingModel: string;
  dimensions: number;
  /** One vector per input, in order, of `dimensions` numbers; throws the SDK's errors after its retries. */
  embed(inputs: string[]): Promise<number[][]>;
}

/** The SDK retries 408/409/429/5xx and connection errors, honouring retry-after; this many times. */
const MAX_RETRIES = 3;
const TIMEOUT_MS = 60_000;

export function createAiProvider(config: Config['openai']): AiProvider | undefined {
  if (!config.apiKey) return undefined;
  const client = new OpenAI({ apiKey: config.apiKey, baseURL: config.baseUrl, maxRetries: MAX_RETRIES, timeout: TIMEOUT_MS });
  const { embeddingModel, embeddingDimensions: dimensions } = config;
  // Only the text-embedding-3 family takes `dimensions`; other servers (Ollama) may refuse it.
  const sendsDimensions = embeddingModel.startsWith('text-embedding-3');
  return {
    client,
    chatModel: config.chatModel,
    replyTimeoutMs: config.replyTimeoutMs,
    circuit: new ModelCircuit(config.circuit),
    embeddingModel,
    dimensions,
    async embed(inputs) {
      const res = await client.embeddings.create({ model: embeddingModel, input: inputs, ...(sendsDimensions ? { dimensions } : {}) });
      const vectors = [...res.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      if (vectors.length !== inputs.length || vectors.some((v) => v.length !== dimensions)) {
        throw new EmbeddingShapeError(`expected ${inputs.length} vectors of ${dimensions} dimensions from ${embeddingModel}`);
      }
      return vectors;
    },
  };
}

/** The server answered vectors of another size or count: a configuration problem, not worth a retry. */
export class EmbeddingShapeError extends Error {}

/** A failure that says the provider is refusing or struggling (not our request's fault): 429, 5xx, timeout, unreachable. */
function providerTrouble(err: unknown): boolean {
  if (err instanceof OpenAI.APIConnectionError) return true;
  return err instanceof OpenAI.APIError && (err.status === 429 || (err.status ?? 0) >= 500);
}

/** The provider's Retry-After in ms, when it sent one. */
function retryAfterMs(err: unknown): number | undefined {
  const headers = err instanceof OpenAI.APIError ? err.headers : undefined;
  const seconds = Number(headers?.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * A circuit breaker for the model provider (one per process: the server has one account). After
 * `failures` failed calls in a row it opens for a cool-down (the provider's Retry-After when it
 * gave one): callers are told no at once, without a request, so a minute of 429s costs a few calls
 * rather than some per message. Then one call at a time tries the provider again; a success closes it.
 */
export class ModelCircuit {
  private failed = 0;
  private openUntil = 0;
  private trying = false;

  constructor(private readonly opts: { failures: number; cooldownMs: number }) {}

  /** Whether a call may go out now; true hands the caller the trial call while half-open (report its outcome). */
  allow(): boolean {
    if (this.failed < this.opts.failures) return true;
    if (Date.now() < this.openUntil || this.trying) return false;
    this.trying = true;
    return true;
  }

  succeeded(): void {
    this.failed = 0;
    this.trying = false;
  }

  /** Any outcome that is not a success; only the provider's trouble counts towards opening. */
  failedWith(err: unknown): void {
    this.trying = false;
    if (!providerTrouble(err)) return;
    this.failed += 1;
    if (this.failed >= this.opts.failures) this.openUntil = Date.now() + (retryAfterMs(err) ?? this.opts.cooldownMs);
  }
}
