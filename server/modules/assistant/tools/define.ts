import type { z } from 'zod';
import { AppError } from '../../../lib/errors.js';
import type { AssistantTool, ToolResult, ToolScope } from '../tool.js';

export const fail = (error: string, message: string): ToolResult => ({ ok: false, error, message });

/** What the model reads for a refusal of the scheduling services: their code, and a next step where one helps. */
const HINTS: Record<string, { error?: string; message: string }> = {
  appointment_conflict: {
    error: 'slot_taken',
    message: 'That time was just taken. Tell the patient it is no longer free and offer other times from find_free_slots.',
  },
  appointment_locked: { message: 'This appointment can no longer be changed (the patient has arrived or it is over). Offer to hand off to the staff.' },
  invalid_status_transition: { message: 'This appointment cannot change to that status. Offer to hand off to the staff.' },
};

/**
 * A tool whose arguments are checked again here (the model's JSON is untrusted, whatever the caller
 * did) and whose refusals (AppError 4xx) become `{ok:false}` answers the model can act on.
 * Anything else is a fault of ours and propagates to the auto-reply. Schemas hold no transforms,
 * so checking twice changes nothing.
 */
export function defineTool<S extends z.ZodType>(tool: AssistantTool<S>): AssistantTool<S> {
  return {
    ...tool,
    async run(args: z.infer<S>, scope: ToolScope): Promise<ToolResult> {
      const parsed = tool.schema.safeParse(args);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ');
        return fail('invalid_arguments', `Invalid arguments for ${tool.name}: ${issues}`);
      }
      try {
        return await tool.run(parsed.data, scope);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        const hint = HINTS[err.code];
        return fail(hint?.error ?? err.code, hint?.message ?? err.message);
      }
    },
  };
}
