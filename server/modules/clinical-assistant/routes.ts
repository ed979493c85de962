import { assistantAnswer, assistantQuestion } from '../../../shared/api/clinical-assistant.js';
import { route, uuidParam } from '../../http/route.js';
import type { ClinicalAssistant } from './service.js';
import { streamAnswer, wantsStream } from './stream.js';

export const clinicalAssistantRoutes = (assistant: ClinicalAssistant) => [
  route({
    method: 'post',
    path: '/contacts/:id/assistant',
    summary:
      "Ask about a patient (or for a summary): an answer grounded on their signed records and submitted anamneses, citing them as [n] (audited; needs the clinic's clinical AI switch). `Accept: text/event-stream` streams it (events delta, done, error)",
    tag: 'Clinical',
    access: 'records:assist',
    schemas: { params: uuidParam, body: assistantQuestion },
    response: assistantAnswer,
    handler: async ({ ctx, params, body, req, res }) => {
      if (!wantsStream(req)) return assistant.ask(ctx, params.id, body.question);
      await streamAnswer(assistant, req, res, { ctx, contactId: params.id, question: body.question });
      return undefined;
    },
  }),
];
