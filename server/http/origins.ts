import { parse } from 'tldts';

/**
 * CORS_ORIGINS entries are exact origins (`https://app.operabase.com.br`) or patterns whose first
 * label is `*`, standing for one DNS label (`https://*.preview.operabase.com.br`).
 */
export function originMatcher(allowed: readonly string[]): (origin: string | undefined) => boolean {
  const exact = new Set(allowed.filter((o) => !o.includes('*')));
  const patterns = allowed
    .filter((o) => o.includes('*'))
    .map((o) => new RegExp(`^${o.split('*').map(escape).join('[a-z0-9-]+')}$`, 'i'));
  return (origin) => origin !== undefined && (exact.has(origin) || patterns.some((p) => p.test(origin)));
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const PATTERN = /^(https?):\/\/\*\.([^/*:]+)(:\d+)?$/i;

/**
 * Why an entry cannot be used, or undefined when it can. A wildcard must stand under a domain the
 * clinic controls: over a public suffix (com.br, or a private one such as vercel.app or
 * github.io, from the Public Suffix List) it lets anyone who can deploy there act as the
 * signed-in staff member.
 */
export function originProblem(entry: string): string | undefined {
  if (!entry.includes('*')) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return `"${entry}" is not an origin (scheme://host[:port])`;
    }
    return url.origin === entry ? undefined : `"${entry}" is not an origin: use "${url.origin}" (no path, no trailing slash)`;
  }
  const match = PATTERN.exec(entry);
  if (!match) return `"${entry}": a wildcard may only be the first label, as in https://*.preview.example.com.br`;
  const parent = match[2]!.toLowerCase();
  const { domain, publicSuffix, isIp, isPrivate } = parse(parent, { allowPrivateDomains: true });
  if (isIp) return `"${entry}": a wildcard cannot stand over an IP address`;
  if (!domain || parent === publicSuffix) {
    const whose = isPrivate ? 'a shared hosting suffix where anyone can deploy a site' : 'a public suffix anyone can register under';
    return `"${entry}": "${parent}" is ${whose}, so any site there could act as a signed-in user. List exact origins, or a wildcard under a domain the clinic controls (e.g. https://*.preview.example.com.br)`;
  }
  return undefined;
}
