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
