/**
 * CORS_ORIGINS entries are exact origins (`https://app.operabase.com.br`) or patterns with one
 * `*` standing for a single DNS label (`https://*.vercel.app`).
 */
export function originMatcher(allowed: readonly string[]): (origin: string | undefined) => boolean {
  const exact = new Set(allowed.filter((o) => !o.includes('*')));
  const patterns = allowed
    .filter((o) => o.includes('*'))
    .map((o) => new RegExp(`^${o.split('*').map(escape).join('[a-z0-9-]+')}$`, 'i'));
  return (origin) => origin !== undefined && (exact.has(origin) || patterns.some((p) => p.test(origin)));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
