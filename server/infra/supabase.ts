import { createClient, isAuthRetryableFetchError, type SupabaseClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { AppError } from '../lib/errors.js';

/**
 * A server-side supabase-js client: no stored session, no token refresh, every call bounded in
 * time. supabase-js builds its realtime client even when unused, and on Node 20 that needs a
 * WebSocket implementation handed to it (`ws`).
 */
export function supabaseClient(url: string, key: string, timeoutMs: number, opts: { unreachableAs503?: boolean } = {}): SupabaseClient {
  const bounded = (input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
  // auth-js prints a network failure to the console (outside our JSON log) before reporting it;
  // a 503 answer is reported the same way (retryable) without the print.
  const unreachable = () => new Response(JSON.stringify({ msg: 'Supabase is unreachable' }), { status: 503, headers: { 'content-type': 'application/json' } });
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // ws's constructor types its address more loosely than supabase-js's WebSocket-like type.
    realtime: { transport: WebSocket as unknown as NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport'] },
    global: { fetch: opts.unreachableAs503 ? (input, init) => bounded(input, init).catch(unreachable) : bounded },
  });
}

/** A Supabase Auth user as sign-in needs it. */
export interface SupabaseUser {
  id: string;
  /** Lower-cased; undefined for phone-only accounts. */
  email: string | undefined;
  /** Whether Supabase confirmed that the user owns the email (never link an unconfirmed one). */
  emailConfirmed: boolean;
}

/** Supabase Auth of the original deployment: whom an access token belongs to, asked of its Auth server. */
export class SupabaseAuth {
  private readonly client: SupabaseClient;

  constructor(url: string, key: string) {
    this.client = supabaseClient(url, key, 10_000, { unreachableAs503: true });
  }

  /** `GET /auth/v1/user` with the token: 401 when Supabase refuses it, 503 when Supabase cannot answer. */
  async userOf(accessToken: string): Promise<SupabaseUser> {
    const { data, error } = await this.client.auth.getUser(accessToken);
    if (error || !data.user) {
      if (isAuthRetryableFetchError(error) || (error?.status ?? 0) >= 500) {
        throw new AppError(503, 'supabase_unavailable', 'Supabase Auth did not answer; try again in a moment', undefined, { 'Retry-After': '5' });
      }
      throw new AppError(401, 'invalid_supabase_token', 'The Supabase session is invalid or has expired; sign in again');
    }
    const { id, email, email_confirmed_at: confirmedAt } = data.user;
    return { id, email: email?.toLowerCase(), emailConfirmed: Boolean(confirmedAt) };
  }
}
