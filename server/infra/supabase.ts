import { createClient, type SupabaseClient, type SupabaseClientOptions } from '@supabase/supabase-js';
import WebSocket from 'ws';

/**
 * A server-side supabase-js client: no stored session, no token refresh, every call bounded in
 * time. supabase-js builds its realtime client even when unused, and on Node 20 that needs a
 * WebSocket implementation handed to it (`ws`).
 */
export function supabaseClient(url: string, key: string, timeoutMs: number): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // ws's constructor types its address more loosely than supabase-js's WebSocket-like type.
    realtime: { transport: WebSocket as unknown as NonNullable<SupabaseClientOptions<'public'>['realtime']>['transport'] },
    global: { fetch: (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) }) },
  });
}
