import type { Request, Response } from 'express';
import { AppError } from '../../lib/errors.js';
import type { ClinicalAssistant } from './service.js';

export const wantsStream = (req: Request) => (req.get('Accept') ?? '').includes('text/event-stream');

/**
 * The answer as server-sent events: `delta` ({text}) as the model writes, then `done` (the whole
 * answer with its citations, as the JSON route answers it) or `error` ({error: {code, message}}).
 * The stream opens with the first event, so a refusal before the model writes (404, 409, 503...)
 * is still an ordinary JSON error with its status. A client that goes away aborts the model call.
 */
export async function streamAnswer(assistant: ClinicalAssistant, req: Request, res: Response, ask: { ctx: Parameters<ClinicalAssistant['ask']>[0]; contactId: string; question: string }) {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const send = (event: string, data: unknown) => {
    if (res.destroyed) return;
    if (!res.headersSent) {
      // X-Accel-Buffering: the nginx in front of Elastic Beanstalk would otherwise hold the events back.
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no', 'X-Request-Id': req.id });
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  try {
    const answer = await assistant.ask(ask.ctx, ask.contactId, ask.question, { onDelta: (text) => send('delta', { text }), signal: controller.signal });
    send('done', answer);
  } catch (err) {
    if (controller.signal.aborted) return void res.end();
    if (!res.headersSent) throw err;
    const e = err instanceof AppError ? err : new AppError(500, 'internal_error', 'Internal server error');
    if (!(err instanceof AppError)) req.log.error({ err }, 'assistant stream failed');
    send('error', { error: { code: e.code, message: e.message, requestId: req.id } });
  }
  res.end();
}
