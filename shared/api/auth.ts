import { z } from 'zod';
import { email, password, personName, role, timezone } from './common.js';

export const registerBody = z.strictObject({ clinicName: z.string().trim().min(1).max(200), name: personName, email, password });
export const loginBody = z.strictObject({ email: z.string().max(254).transform((v) => v.toLowerCase()), password: z.string().max(200) });
export const switchClinicBody = z.strictObject({ clinicId: z.uuid() });
export const changePasswordBody = z.strictObject({ currentPassword: z.string().max(200), newPassword: password });
/** A Supabase Auth access token (a JWT) of the original deployment's sign-in. */
export const supabaseSignInBody = z.strictObject({ accessToken: z.string().min(1).max(8192) });
export const passwordResetBody = z.strictObject({ email: z.string().max(254) });
export const passwordResetConfirmBody = z.strictObject({ token: z.string().min(10).max(200), newPassword: password });

export const membershipSummary = z.object({
  clinicId: z.uuid(),
  clinicName: z.string(),
  role,
  isProfessional: z.boolean(),
});
export const meResponse = z.object({
  user: z.object({ id: z.uuid(), name: z.string(), email: z.string() }),
  clinic: z.object({ id: z.uuid(), name: z.string(), timezone }),
  role,
  isProfessional: z.boolean(),
  memberships: z.array(membershipSummary),
});
export type MeResponse = z.infer<typeof meResponse>;

/** `GET /auth/google`: optionally the token of a pending invitation (as in its emailed link) to accept. */
export const googleSignInQuery = z.strictObject({ invitation: z.string().min(10).max(200).optional() });
/**
 * What Google appends to the callback (RFC 6749 4.1.2): `code` and `state`, or `error`. Loose:
 * Google adds `scope`, `authuser`, `prompt`, `hd`, `iss`, which are ignored.
 */
export const googleCallbackQuery = z.object({
  state: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code: z.string().min(10).max(2048).optional(),
  error: z
    .string()
    .regex(/^[a-z][a-z_]{0,63}$/)
    .optional(),
});
