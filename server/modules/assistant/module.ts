import { eq } from 'drizzle-orm';
import { whatsappNumbers } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { AiConfigView } from '../../../shared/api/ai.js';
import type { DeliveredEvent } from '../../../shared/api/domain-events.js';
import type { AiConfigService } from '../ai/config.js';
import type { AiUsageService } from '../ai/usage.js';
import type { ClinicService } from '../clinic/service.js';
import type { MessageService } from '../inbox/messages.js';
import type { KnowledgeSearch } from '../knowledge/search.js';
import { defineSubscriber, type Module, type Providers } from '../module.js';
import { AssistantConversations } from './conversation.js';
import { AutoReply } from './reply.js';
import type { AssistantTool } from './tool.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    'assistant.reply': { messageId: string };
    'assistant.expire_pauses': Record<string, never>;
  }
}

/** How often expired pauses are cleared and published, once per cluster (replies compare the time themselves). */
const EXPIRE_EVERY_MS = 60_000;

/**
 * The assistant's WhatsApp auto-reply (docs/ai.md "Auto-reply"): a debounced job per inbound
 * message, pauses after a person replies, handoffs to the staff in real time. `tools` are the
 * functions the model may call, each limited to the conversation's own patient.
 */
export function assistantModule(
  infra: Infra,
  deps: {
    aiConfig: AiConfigService;
    aiUsage: AiUsageService;
    knowledgeSearch: KnowledgeSearch;
    clinic: ClinicService;
    inbox: { messages: MessageService };
    providers: Pick<Providers, 'inboundClaims'>;
    tools: AssistantTool[];
  },
): Module<{ assistant: { reply: AutoReply; conversations: AssistantConversations } }> {
  const conversations = new AssistantConversations(infra);
  const reply = new AutoReply(infra, { ...deps, messages: deps.inbox.messages, conversations });
  /** A claimed batch reads each clinic's settings once (an ingest batch brings hundreds of messages). */
  const replyLater = async (events: DeliveredEvent<'message.received'>[]) => {
    const configs = new Map<string, Promise<AiConfigView>>();
    for (const event of events) {
      if (!configs.has(event.clinicId)) configs.set(event.clinicId, deps.aiConfig.get(event.clinicId));
      const config = await configs.get(event.clinicId)!;
      const skipped = reply.serves(config, event.payload.numberId);
      if (skipped) {
        reply.skip(skipped, infra.log.child({ clinicId: event.clinicId, subscriber: 'assistant-reply' }));
        continue;
      }
      await infra.queue.add(
        'assistant.reply',
        { messageId: event.payload.id },
        { jobId: `assistant-reply:${event.payload.id}`, delayMs: config.debounceSeconds * 1000, context: { clinicId: event.clinicId, requestId: event.requestId } },
      );
    }
  };
  return {
    name: 'assistant',
    services: { assistant: { reply, conversations } },
    subscribers: [
      // One job per inbound message, delayed by the debounce window; the job id makes a redelivered event a no-op.
      defineSubscriber({
        name: 'assistant-reply',
        events: ['message.received'],
        handle: (event) => replyLater([event]),
        handleBatch: replyLater,
      }),
      // A person answered from the app or from the phone (fromMe): the assistant keeps quiet for the configured time.
      defineSubscriber({
        name: 'assistant-pause',
        events: ['message.sent'],
        async handle(event) {
          if (event.payload.sender !== 'user' && event.payload.sender !== 'phone') return;
          const { pauseAfterHumanMinutes } = await deps.aiConfig.get(event.clinicId);
          await conversations.pause(event.clinicId, event.payload.conversationId, new Date(event.createdAt.getTime() + pauseAfterHumanMinutes * 60_000));
        },
      }),
      // Staff who may read the conversation are told at once (a private number's: its professional and the admins).
      defineSubscriber({
        name: 'assistant-realtime',
        events: ['assistant.handoff'],
        async handle(event) {
          const data = new ClinicData(event.clinicId, infra.db);
          const [number] = await data.pick({ owner: whatsappNumbers.professionalId }, whatsappNumbers, eq(whatsappNumbers.id, event.payload.numberId));
          if (!number) return;
          if (number.owner) infra.realtime.emitToOwner(event.clinicId, number.owner, 'assistant:handoff', event.payload);
          else infra.realtime.emitToClinic(event.clinicId, 'assistant:handoff', event.payload);
        },
      }),
    ],
    jobs: [
      defineJob({
        name: 'assistant.reply',
        queue: 'ai',
        handler: async (data, job) => {
          if (!job.clinicId) throw new Error('assistant.reply without a clinic');
          await reply.run(job.clinicId, data.messageId, job);
        },
      }),
      defineJob({
        name: 'assistant.expire_pauses',
        queue: 'maintenance',
        everyMs: EXPIRE_EVERY_MS,
        handler: async (_d, job) => {
          const expired = await conversations.expirePauses();
          if (expired > 0) job.log.info({ expired }, 'assistant pauses expired');
        },
      }),
    ],
    metrics: Object.values(reply.metrics),
  };
}
