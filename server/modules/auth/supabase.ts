import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { users } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { SupabaseUser } from '../../infra/supabase.js';
import { AppError, notConfigured } from '../../lib/errors.js';
import type { AuthService, RequestInfo, SignedIn } from './service.js';

const notLinked = () =>
  new AppError(401, 'supabase_account_not_linked', 'No Operabase account is linked to this Supabase account; sign in with your email and password');

/**
 * Sign-in with a Supabase Auth access token (the original deployment's accounts). The token is
 * checked by Supabase Auth itself; the account is found by its Supabase user id, or linked the
 * first time by the email Supabase has confirmed. An unconfirmed email never links.
 */
export class SupabaseSignIn {
  constructor(
    private readonly infra: Infra,
    private readonly auth: AuthService,
  ) {}

  async signIn(accessToken: string, info: RequestInfo): Promise<SignedIn> {
    const supabase = this.infra.supabaseAuth;
    if (!supabase) throw notConfigured('Supabase Auth');
    const remote = await supabase.userOf(accessToken);
    const { userId, linked } = await this.localUser(remote);
    return this.auth.signInAs(userId, info, { method: 'supabase', ...(linked ? { linked: true } : {}) });
  }

  private async localUser(remote: SupabaseUser): Promise<{ userId: string; linked: boolean }> {
    const db = this.infra.db;
    const [known] = await db.select({ id: users.id }).from(users).where(eq(users.supabaseUserId, remote.id));
    if (known) return { userId: known.id, linked: false };
    if (!remote.email || !remote.emailConfirmed) throw notLinked();
    // The same Supabase user signing in twice at once links once; an account linked to another Supabase user stays so.
    const [row] = await db
      .update(users)
      .set({ supabaseUserId: remote.id, updatedAt: new Date() })
      .where(and(sql`lower(${users.email}) = ${remote.email}`, or(isNull(users.supabaseUserId), eq(users.supabaseUserId, remote.id))))
      .returning({ id: users.id });
    if (!row) throw notLinked();
    this.infra.log.info({ userId: row.id }, 'account linked to a Supabase Auth user');
    return { userId: row.id, linked: true };
  }
}
