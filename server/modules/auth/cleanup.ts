import { isNotNull, lt, or } from 'drizzle-orm';
import { invitations, passwordResetTokens } from '../../../shared/schema/index.js';
import type { Db } from '../../infra/db.js';

/** Deletes password reset tokens and invitations that can no longer be used, in every clinic (`systemDb`). Safe to run twice. */
export async function deleteExpiredTokens(systemDb: Db, now = new Date()) {
  const resets = await systemDb
    .delete(passwordResetTokens)
    .where(or(lt(passwordResetTokens.expiresAt, now), isNotNull(passwordResetTokens.usedAt)))
    .returning({ id: passwordResetTokens.id });
  const invites = await systemDb.delete(invitations).where(lt(invitations.expiresAt, now)).returning({ id: invitations.id });
  return { resetTokens: resets.length, invitations: invites.length };
}
