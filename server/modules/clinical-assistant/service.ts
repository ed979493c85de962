import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { AssistantAnswer } from '../../../shared/api/clinical-assistant.js';
import type { Infra } from '../../infra/index.js';
import type { AiProvider } from '../../infra/ai.js';
import type { TenantContext } from '../../http/context.js';
import { AppError, conflict, notConfigured } from '../../lib/errors.js';
import type { AiConfigService } from '../ai/config.js';
import type { AiUsageService } from '../ai/usage.js';
import type { AnamnesisService } from '../anamnesis/service.js';
import type { ContactService } from '../contacts/service.js';
import type { RecordService } from '../records/service.js';
import { messages, NO_SOURCES_ANSWER, publicSource, resolveCitations } from './prompt.js';
import { fitSources, MAX_RECORDS, type AnamnesisAnswers } from './sources.js';

export interface AskOptions {
  /** Streams the answer: called with each piece of text as the model writes it. */
  onDelta?: (text: string) => void;
  /** Aborts the model call (the client went away). */
  signal?: AbortSignal;
}

interface Completion {
  text: string;
  inputTokens: number;
  outputTokens: number;
}

/** A failed model call (after the SDK's retries) as a clear answer: 503 when worth retrying later, 502 when the provider refused. */
function modelError(err: unknown): AppError {
  if (err instanceof APIConnectionError) return new AppError(503, 'model_unavailable', 'O provedor de IA não respondeu; tente novamente em instantes', undefined, { 'Retry-After': '30' });
  if (err instanceof APIError && err.status === 429) return new AppError(503, 'model_rate_limited', 'O provedor de IA está limitando as chamadas; tente novamente em instantes', undefined, { 'Retry-After': '60' });
  if (err instanceof APIError && (err.status ?? 500) >= 500) return new AppError(503, 'model_unavailable', 'O provedor de IA falhou ao responder; tente novamente em instantes', undefined, { 'Retry-After': '30' });
  return new AppError(502, 'model_error', `O provedor de IA recusou o pedido${err instanceof APIError && err.status ? ` (HTTP ${err.status})` : ''}; verifique a configuração do modelo`);
}

/**
 * The professional's record assistant (issue #12 item 7): a summary or an answer about one
 * patient, grounded on their signed records and submitted anamneses, each claim cited by source.
 * Sent to the model only when the clinic switched clinical AI on; read and audited through the
 * records service (`medical_record.assistant_read`).
 */
export class ClinicalAssistant {
  constructor(
    private readonly infra: Infra,
    private readonly records: RecordService,
    private readonly anamnesis: AnamnesisService,
    private readonly contacts: ContactService,
    private readonly aiConfig: AiConfigService,
    private readonly aiUsage: AiUsageService,
  ) {}

  async ask(ctx: TenantContext, contactId: string, question: string, opts: AskOptions = {}): Promise<AssistantAnswer> {
    await this.contacts.get(ctx.clinicId, contactId);
    const config = await this.aiConfig.get(ctx.clinicId);
    if (!config.clinicalAi.enabled) {
      throw conflict('clinical_ai_disabled', 'A clínica não ativou a IA clínica: um administrador deve aceitar a declaração de LGPD em /ai/config (clinicalAi) antes de enviar dados de saúde ao provedor de IA');
    }
    const ai = this.infra.ai;
    if (!ai) throw notConfigured('AI model provider (OPENAI_API_KEY)');
    if ((await this.aiUsage.remainingBudget(ctx.clinicId)) <= 0) {
      throw new AppError(429, 'ai_budget_exhausted', 'O orçamento diário de tokens de IA da clínica acabou; ele renova à meia-noite no fuso da clínica ou um administrador pode aumentá-lo em /ai/config');
    }
    const anamneses = await this.submittedAnamneses(ctx, contactId);
    const { sources, omitted } = await this.records.readForAssistant(ctx, contactId, {
      limit: MAX_RECORDS,
      choose: (records) => {
        const fit = fitSources(records, anamneses, config.timezone);
        const ids = (type: string) => fit.sources.filter((s) => s.type === type).map((s) => s.id);
        return { recordIds: ids('medical_record'), details: { anamnesisIds: ids('anamnesis'), omitted: fit.omitted, model: ai.chatModel, feature: 'professional_assistant' }, result: fit };
      },
    });
    if (sources.length === 0) return { answer: NO_SOURCES_ANSWER, citations: [], sources: [], omitted, model: null };
    const completion = await this.complete(ctx, ai, messages(sources, question), opts);
    const { answer, citations } = resolveCitations(completion.text, sources);
    return { answer, citations, sources: sources.map(publicSource), omitted, model: ai.chatModel };
  }

  /** Submitted forms only: a form still being filled holds answers the patient has not sent. */
  private async submittedAnamneses(ctx: TenantContext, contactId: string): Promise<AnamnesisAnswers[]> {
    const all = await this.anamnesis.exportFor(ctx, contactId);
    return all.filter((a) => a.status === 'submitted');
  }

  /** One chat call (streamed when asked), its usage recorded either way; errors mapped after the SDK's retries. */
  private async complete(ctx: TenantContext, ai: AiProvider, prompt: ChatCompletionMessageParam[], opts: AskOptions): Promise<Completion> {
    const usage = (c: Omit<Completion, 'text'>, error = false) =>
      this.aiUsage.record(ctx.clinicId, { feature: 'professional_assistant', model: ai.chatModel, ...c, ...(error ? { error } : {}) });
    let completion: Completion;
    try {
      completion = opts.onDelta ? await this.streamed(ai, prompt, opts.onDelta, opts.signal) : await this.single(ai, prompt, opts.signal);
    } catch (err) {
      await usage({ inputTokens: 0, outputTokens: 0 }, true);
      if (err instanceof APIUserAbortError) throw err;
      throw modelError(err);
    }
    await usage(completion);
    return completion;
  }

  private async single(ai: AiProvider, prompt: ChatCompletionMessageParam[], signal: AbortSignal | undefined): Promise<Completion> {
    const res = await ai.client.chat.completions.create({ model: ai.chatModel, messages: prompt }, signal ? { signal } : {});
    return { text: res.choices[0]?.message.content ?? '', inputTokens: res.usage?.prompt_tokens ?? 0, outputTokens: res.usage?.completion_tokens ?? 0 };
  }

  private async streamed(ai: AiProvider, prompt: ChatCompletionMessageParam[], onDelta: (text: string) => void, signal: AbortSignal | undefined): Promise<Completion> {
    const stream = await ai.client.chat.completions.create({ model: ai.chatModel, messages: prompt, stream: true, stream_options: { include_usage: true } }, signal ? { signal } : {});
    const out: Completion = { text: '', inputTokens: 0, outputTokens: 0 };
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content;
      if (piece) {
        out.text += piece;
        onDelta(piece);
      }
      if (chunk.usage) Object.assign(out, { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens });
    }
    return out;
  }
}
