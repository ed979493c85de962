import type { z } from 'zod';
import type { AiConfigView } from '../../../shared/api/ai.js';

/**
 * What an assistant tool may touch: the clinic, the conversation and its own patient, fixed by the
 * auto-reply before the model runs. The model's arguments never name a patient or a clinic, so a
 * message saying "list all patients" cannot reach anyone else.
 */
export interface ToolScope {
  clinicId: string;
  conversationId: string;
  contactId: string;
  /** The clinic's assistant settings (which professionals and appointment types it may book). */
  config: AiConfigView;
  /** The request or event that started the reply, for logs and audit. */
  requestId: string | null;
}

/** A tool's answer, given back to the model as JSON. `handoff` also ends the reply and hands the conversation to a person. */
export type ToolResult = { ok: true; data: unknown; handoff?: { reason: string } } | { ok: false; error: string; message: string };

/** One tool the chat model may call: name and description in English for the model, arguments checked by `schema`. */
export interface AssistantTool<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  schema: S;
  run(args: z.infer<S>, scope: ToolScope): Promise<ToolResult>;
}
