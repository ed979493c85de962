import OpenAI from 'openai';
import { z } from 'zod';
import type { HandoffReason } from '../../../shared/api/events.js';
import type { AiProvider } from '../../infra/ai.js';
import type { Logger } from '../../infra/logger.js';
import type { AssistantTool, ToolResult, ToolScope } from './tool.js';

type Message = OpenAI.Chat.ChatCompletionMessageParam;

/** Model calls per reply: the first answer plus rounds of tool calls. Past it: hand off. */
export const MAX_ROUNDS = 5;
/** Retries of one model call by the SDK (honouring retry-after): one, so a failing provider costs two requests per call at most. */
const CALL_RETRIES = 1;
/** WhatsApp's limit for one text message. */
const MAX_REPLY = 4_096;

export interface ToolCallRecord {
  name: string;
  args: unknown;
  ok: boolean;
}

export type ModelOutcome =
  | { kind: 'reply'; text: string; toolCalls: ToolCallRecord[] }
  | { kind: 'handoff'; reason: HandoffReason; toolCalls: ToolCallRecord[] };

export interface ModelCall {
  inputTokens: number;
  outputTokens: number;
  error?: boolean;
}

/** The OpenAI description of a tool, its arguments as JSON Schema from its zod schema. */
function toolSpec(tool: AssistantTool): OpenAI.Chat.ChatCompletionTool {
  const { $schema: _s, ...parameters } = z.toJSONSchema(tool.schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters } };
}

/** What a tool call answers the model; a tool that throws or gets bad arguments answers an error, never ends the reply. */
async function runTool(tool: AssistantTool | undefined, raw: string, scope: ToolScope, log: Logger): Promise<{ args: unknown; result: ToolResult }> {
  let args: unknown;
  try {
    args = raw ? JSON.parse(raw) : {};
  } catch {
    return { args: null, result: { ok: false, error: 'invalid_arguments', message: 'Arguments are not valid JSON' } };
  }
  if (!tool) return { args, result: { ok: false, error: 'unknown_tool', message: 'No tool has that name' } };
  const parsed = tool.schema.safeParse(args);
  if (!parsed.success) return { args, result: { ok: false, error: 'invalid_arguments', message: z.prettifyError(parsed.error) } };
  try {
    return { args, result: await tool.run(parsed.data, scope) };
  } catch (err) {
    log.error({ tool: tool.name, err: { name: (err as Error).name, message: (err as Error).message } }, 'assistant tool failed');
    return { args, result: { ok: false, error: 'tool_failed', message: 'The tool failed; tell the patient the team will follow up' } };
  }
}

/**
 * The chat loop: ask the model with the tools, run the tools it calls with the conversation's
 * scope (the model's arguments never name a patient or clinic), give the results back, up to
 * MAX_ROUNDS calls. `onCall` records each call's tokens (a failed call: after the SDK's retries,
 * with no tokens); `budgetLeft` is asked before each call.
 */
export async function converse(opts: {
  ai: AiProvider;
  messages: Message[];
  tools: AssistantTool[];
  scope: ToolScope;
  log: Logger;
  onCall: (call: ModelCall) => Promise<void>;
  budgetLeft: () => Promise<boolean>;
}): Promise<ModelOutcome> {
  const { ai, tools, scope, log } = opts;
  const byName = new Map(tools.map((t) => [t.name, t]));
  const specs = tools.map(toolSpec);
  const messages = [...opts.messages];
  const toolCalls: ToolCallRecord[] = [];
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round > 0 && !(await opts.budgetLeft())) return { kind: 'handoff', reason: 'budget', toolCalls };
    // The provider failed the last calls: a person answers, and nothing is sent to it meanwhile.
    if (!ai.circuit.allow()) {
      log.warn('chat model circuit open: handing off without a call');
      return { kind: 'handoff', reason: 'model_error', toolCalls };
    }
    let completion: OpenAI.Chat.ChatCompletion;
    try {
      completion = await ai.client.chat.completions.create(
        { model: ai.chatModel, messages, ...(specs.length ? { tools: specs, tool_choice: 'auto' as const } : {}) },
        { timeout: ai.replyTimeoutMs, maxRetries: CALL_RETRIES },
      );
      ai.circuit.succeeded();
    } catch (err) {
      ai.circuit.failedWith(err);
      const status = err instanceof OpenAI.APIError ? err.status : undefined;
      log.warn({ err: { name: (err as Error).name, status } }, 'chat model failed after retries: handing off');
      await opts.onCall({ inputTokens: 0, outputTokens: 0, error: true });
      return { kind: 'handoff', reason: 'model_error', toolCalls };
    }
    await opts.onCall({ inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 });
    const message = completion.choices[0]?.message;
    const calls = (message?.tool_calls ?? []).filter((c) => c.type === 'function');
    if (calls.length === 0) {
      const text = message?.content?.trim();
      if (!text) return { kind: 'handoff', reason: 'model_error', toolCalls };
      return { kind: 'reply', text: text.slice(0, MAX_REPLY), toolCalls };
    }
    messages.push({ role: 'assistant', content: message?.content ?? null, tool_calls: calls });
    for (const call of calls) {
      const { args, result } = await runTool(byName.get(call.function.name), call.function.arguments, scope, log);
      toolCalls.push({ name: call.function.name, args, ok: result.ok });
      if (result.ok && result.handoff) return { kind: 'handoff', reason: 'tool', toolCalls };
      messages.push({ role: 'tool', tool_call_id: call.id, content: JSON.stringify(result) });
    }
  }
  return { kind: 'handoff', reason: 'tool_limit', toolCalls };
}
