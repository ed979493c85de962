import { Counter } from 'prom-client';
import type { AiConfigView } from '../../../shared/api/ai.js';
import type { HandoffReason } from '../../../shared/api/events.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { systemContext } from '../../http/context.js';
import { withinHours, type AiConfigService } from '../ai/config.js';
import type { AiUsageService } from '../ai/usage.js';
import type { ClinicService } from '../clinic/service.js';
import type { MessageService } from '../inbox/messages.js';
import type { KnowledgeSearch, SearchHit } from '../knowledge/search.js';
import type { Providers } from '../module.js';
import type { AssistantConversations, Inbound } from './conversation.js';
import { converse, type ToolCallRecord } from './model.js';
import { buildMessages } from './prompt.js';
import { detectEmergency, HANDOFF_TEXTS, matchKeyword } from './safety.js';
import type { AssistantTool } from './tool.js';

/** Passages retrieved per reply. */
const CHUNKS = 5;
const HOUR_MS = 3_600_000;

/** Why a message got no answer (logged, and counted in `assistant_skips_total`). */
export type SkipReason =
  | 'gone'
  | 'superseded'
  | 'already_answered'
  | 'disabled'
  | 'number_not_enabled'
  | 'conversation_disabled'
  | 'paused'
  | 'human_replied'
  | 'claimed'
  | 'no_text'
  | 'outside_hours'
  | 'rate_limited'
  | 'no_provider';

export const replyKey = (inboundId: string) => `ai-reply:${inboundId}`;

const HANDOFF_TEXT: Record<HandoffReason, string> = {
  keyword: HANDOFF_TEXTS.asked,
  tool: HANDOFF_TEXTS.asked,
  emergency: HANDOFF_TEXTS.medical,
  model_error: HANDOFF_TEXTS.unavailable,
  budget: HANDOFF_TEXTS.unavailable,
  tool_limit: HANDOFF_TEXTS.unavailable,
};

export interface AutoReplyDeps {
  aiConfig: AiConfigService;
  aiUsage: AiUsageService;
  knowledgeSearch: KnowledgeSearch;
  clinic: ClinicService;
  messages: Pick<MessageService, 'sendAutomated'>;
  providers: Pick<Providers, 'inboundClaims'>;
  conversations: AssistantConversations;
  tools: AssistantTool[];
}

/**
 * The answer to a patient's burst of messages (the `assistant.reply` job, one per inbound
 * message, delayed by the debounce window): only the job of the burst's newest message answers,
 * once per key. Deterministic checks (skips, emergency, keywords) run before the model.
 */
export class AutoReply {
  readonly metrics = {
    skips: new Counter({ name: 'assistant_skips_total', help: 'Inbound messages the assistant did not answer, by reason', labelNames: ['reason'], registers: [] }),
    handoffs: new Counter({ name: 'assistant_handoffs_total', help: 'Conversations the assistant handed to a person, by reason', labelNames: ['reason'], registers: [] }),
    replies: new Counter({ name: 'assistant_replies_total', help: 'Answers the assistant sent (handoff messages not included)', registers: [] }),
  };

  constructor(
    private readonly infra: Infra,
    private readonly deps: AutoReplyDeps,
  ) {}

  /** Counted and logged (a skip says nothing to the patient); the reason is a code, never message text. */
  skip(reason: SkipReason, log: JobContext['log']) {
    this.metrics.skips.inc({ reason });
    // Expected on every burst or every message of a clinic without the assistant: debug, not info.
    const quiet = reason === 'superseded' || reason === 'disabled' || reason === 'number_not_enabled' || reason === 'no_provider';
    log[quiet ? 'debug' : 'info']({ reason }, 'assistant skipped');
  }

  /** The subscriber's early exit: no job for a clinic or number the assistant does not serve. */
  serves(config: AiConfigView, numberId: string): SkipReason | undefined {
    if (!config.enabled) return 'disabled';
    if (!config.numberIds.includes(numberId)) return 'number_not_enabled';
    return undefined;
  }

  async run(clinicId: string, messageId: string, job: JobContext): Promise<void> {
    const { conversations } = this.deps;
    const log = job.log;
    const inbound = await conversations.inbound(clinicId, messageId);
    if (!inbound) return this.skip('gone', log);
    const key = replyKey(messageId);
    const done = await conversations.answered(clinicId, key);
    if (done) {
      // Sent before a crash that lost the handoff: apply it again (idempotent), send nothing.
      const reason = (done.meta as { handoff?: HandoffReason } | null)?.handoff;
      const config = reason && (await this.deps.aiConfig.get(clinicId));
      if (reason && config) await this.applyHandoff(clinicId, inbound, reason, config, job);
      return this.skip('already_answered', log);
    }
    const [config, { latestInboundId, humanReplied }] = await Promise.all([this.deps.aiConfig.get(clinicId), conversations.latest(clinicId, inbound.conversationId, inbound.sentAt)]);
    const now = new Date();
    const early = this.serves(config, inbound.numberId);
    if (early) return this.skip(early, log);
    if (latestInboundId !== inbound.id) return this.skip('superseded', log);
    if (!inbound.aiEnabled) return this.skip('conversation_disabled', log);
    if (inbound.aiPausedUntil && inbound.aiPausedUntil > now) return this.skip('paused', log);
    if (humanReplied) return this.skip('human_replied', log);
    for (const claims of this.deps.providers.inboundClaims) if (await claims(clinicId, messageId)) return this.skip('claimed', log);
    const { burst, history } = await conversations.transcript(clinicId, inbound.conversationId);
    if (burst.length === 0) return this.skip('no_text', log);

    // Needs no model: answered even outside hours, over the budget or without a provider.
    const emergency = detectEmergency(burst);
    if (emergency) return this.handoff(clinicId, inbound, 'emergency', config, job, { text: HANDOFF_TEXTS[emergency], meta: { emergency } });

    if (!withinHours(config.hours, config.timezone, now)) return this.skip('outside_hours', log);
    if ((await conversations.aiRepliesSince(clinicId, inbound.conversationId, new Date(now.getTime() - HOUR_MS))) >= config.maxRepliesPerHour) return this.skip('rate_limited', log);
    const keyword = matchKeyword(burst, config.handoffKeywords);
    if (keyword) return this.handoff(clinicId, inbound, 'keyword', config, job);
    const ai = this.infra.ai;
    if (!ai) return this.skip('no_provider', log);
    const budgetLeft = async () => (await this.deps.aiUsage.remainingBudget(clinicId)) > 0;
    if (!(await budgetLeft())) return this.handoff(clinicId, inbound, 'budget', config, job);

    const [hits, clinic] = await Promise.all([this.retrieve(clinicId, config, burst, log), this.deps.clinic.get(clinicId)]);
    const outcome = await converse({
      ai,
      messages: buildMessages({ systemPrompt: config.systemPrompt, clinic, hits, history, burst, now }),
      tools: this.deps.tools,
      scope: { clinicId, conversationId: inbound.conversationId, contactId: inbound.contactId, config, requestId: job.requestId },
      log,
      onCall: (call) => this.deps.aiUsage.record(clinicId, { feature: 'auto_reply', model: ai.chatModel, ...call }),
      budgetLeft,
    });
    const meta = { chunks: hits.map((h) => ({ id: h.chunkId, score: h.score })), toolCalls: outcome.toolCalls, model: ai.chatModel };
    if (outcome.kind === 'handoff') return this.handoff(clinicId, inbound, outcome.reason, config, job, { meta });
    await this.send(clinicId, inbound, key, outcome.text, meta, job);
    this.metrics.replies.inc();
    log.info({ toolCalls: outcome.toolCalls.length, chunks: hits.length }, 'assistant replied');
  }

  /** Passages of the configured bases for the burst; none (logged) when there are no bases or search fails. */
  private async retrieve(clinicId: string, config: AiConfigView, burst: string[], log: JobContext['log']): Promise<SearchHit[]> {
    if (config.knowledgeBaseIds.length === 0) return [];
    try {
      const query = burst.join('\n').slice(0, 1_000);
      return (await this.deps.knowledgeSearch.search(clinicId, { query, knowledgeBaseIds: config.knowledgeBaseIds, k: CHUNKS }, log)).hits;
    } catch (err) {
      log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'knowledge search failed: answering without passages');
      return [];
    }
  }

  private send(clinicId: string, inbound: Inbound, key: string, text: string, meta: Record<string, unknown>, job: JobContext) {
    const ctx = systemContext(clinicId, 'assistant', job.requestId);
    return this.deps.messages.sendAutomated(ctx, inbound.conversationId, { sender: 'ai', text, key, meta });
  }

  /**
   * The patient is told first (once per key), then the conversation goes to the staff: sent before
   * a crash, the retry re-applies it; a send refused (the number unlinked) still notifies the staff.
   */
  private async handoff(
    clinicId: string,
    inbound: Inbound,
    reason: HandoffReason,
    config: AiConfigView,
    job: JobContext,
    extra: { text?: string; meta?: { toolCalls?: ToolCallRecord[] } & Record<string, unknown> } = {},
  ) {
    try {
      await this.send(clinicId, inbound, replyKey(inbound.id), extra.text ?? HANDOFF_TEXT[reason], { toolCalls: [], chunks: [], ...extra.meta, handoff: reason }, job);
    } finally {
      await this.applyHandoff(clinicId, inbound, reason, config, job);
    }
  }

  private async applyHandoff(clinicId: string, inbound: Inbound, reason: HandoffReason, config: AiConfigView, job: JobContext) {
    const until = new Date(Date.now() + config.pauseAfterHumanMinutes * 60_000);
    await this.deps.conversations.handoff(systemContext(clinicId, 'assistant', job.requestId), inbound.conversationId, reason, until);
    this.metrics.handoffs.inc({ reason });
    job.log.info({ reason }, 'assistant handed the conversation to a person');
  }
}
