import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type AgentOptions, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Outbound HTTP to addresses users give (URL documents, N8N webhooks) without reaching the inside:
 * loopback, private, link-local (cloud metadata 169.254.169.254), CGNAT, multicast, reserved and
 * their IPv6 forms are refused. The name is resolved once, every address is checked, and the
 * socket connects to the checked address (pinned: no second lookup, so no DNS rebinding).
 * Redirects are followed by hand, each hop checked again. Operators open intranet hosts with
 * OUTBOUND_ALLOW_HOSTS (names, addresses or CIDR ranges).
 */

export type SafeFetchErrorCode = 'invalid_url' | 'blocked_address' | 'unreachable' | 'timeout' | 'too_large' | 'too_many_redirects' | 'bad_status';

export class SafeFetchError extends Error {
  constructor(
    readonly code: SafeFetchErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface SafeFetchOptions {
  /** OUTBOUND_ALLOW_HOSTS entries. */
  allowHosts?: readonly string[];
  maxBytes: number;
  /** For the whole fetch, redirects included. */
  timeoutMs: number;
  maxRedirects?: number;
  headers?: Record<string, string>;
  /** Resolver (tests map a name to loopback); the system's by default. */
  resolve?: (host: string) => Promise<string[]>;
  /** GET by default; a POST sends `body` (webhooks). */
  method?: 'GET' | 'POST';
  body?: string | Buffer;
  /**
   * Answers every status as it came (a redirect is not followed) instead of throwing `bad_status`,
   * and keeps only the first `maxBytes` of the body instead of throwing `too_large`: a webhook's
   * receiver is judged by its status, and its answer is kept as a short excerpt.
   */
  anyStatus?: boolean;
}

export interface SafeResponse {
  /** The final URL, after redirects. */
  url: string;
  status: number;
  contentType: string;
  body: Buffer;
}

interface AllowList {
  names: Set<string>;
  ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][];
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Parsed once per list (the configuration's array is the same on every call). */
const parsedLists = new WeakMap<readonly string[], AllowList>();

function allowListOf(entries: readonly string[] | undefined): AllowList {
  if (!entries) return parseAllowList([]);
  let list = parsedLists.get(entries);
  if (!list) parsedLists.set(entries, (list = parseAllowList(entries)));
  return list;
}

export function parseAllowList(entries: readonly string[]): AllowList {
  const list: AllowList = { names: new Set(), ranges: [] };
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
    if (!entry) continue;
    if (ipaddr.isValidCIDR(entry)) list.ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const address = ipaddr.parse(entry);
      list.ranges.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else list.names.add(entry);
  }
  return list;
}

/** Only global unicast addresses; an IPv4-mapped IPv6 address is judged as its IPv4 form. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

function allowedAddress(address: string, allow: AllowList): boolean {
  if (isPublicAddress(address)) return true;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return allow.ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits));
}

const systemResolve = (host: string) =>
  new Promise<string[]>((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => (err ? reject(err) : resolve(addresses.map((a) => a.address)))),
  );

/** The addresses to connect to, all checked; refuses a name with any inside address. */
async function checkedAddresses(host: string, allow: AllowList, resolve: (host: string) => Promise<string[]>): Promise<string[]> {
  if (ipaddr.isValid(host)) {
    if (!allow.names.has(host) && !allowedAddress(host, allow)) throw blocked(host);
    return [host];
  }
  const addresses = await resolve(host).catch(() => {
    throw new SafeFetchError('unreachable', `The name ${host} could not be resolved`);
  });
  if (addresses.length === 0) throw new SafeFetchError('unreachable', `The name ${host} has no address`);
  if (!allow.names.has(host)) for (const address of addresses) if (!allowedAddress(address, allow)) throw blocked(host);
  return addresses;
}

const blocked = (host: string) => new SafeFetchError('blocked_address', `${host} is a private or reserved address`);

/** A lookup that answers the addresses already checked, in both shapes Node asks for. */
function pinned(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: ipaddr.parse(address).kind() === 'ipv4' ? 4 : 6 }));
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, entries);
    else callback(null, entries[0]?.address, entries[0]?.family);
  }) as unknown as LookupFunction;
}

function parseUrl(raw: string, base?: string): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    throw new SafeFetchError('invalid_url', 'The URL is not valid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SafeFetchError('invalid_url', 'Only http and https URLs are fetched');
  if (url.username || url.password) throw new SafeFetchError('invalid_url', 'URLs with credentials are not fetched');
  return url;
}

/**
 * Refuses a URL `safeFetch` would refuse before connecting (scheme, credentials, an inside address
 * after resolution): to judge a URL when it is saved. The fetch checks again, after its own lookup.
 */
export async function checkUrl(rawUrl: string, opts: Pick<SafeFetchOptions, 'allowHosts' | 'resolve'> = {}): Promise<URL> {
  const url = parseUrl(rawUrl);
  await checkedAddresses(url.hostname.toLowerCase().replace(/^\[|\]$/g, ''), allowListOf(opts.allowHosts), opts.resolve ?? systemResolve);
  return url;
}

export async function safeFetch(rawUrl: string, opts: SafeFetchOptions): Promise<SafeResponse> {
  const allow = allowListOf(opts.allowHosts);
  const resolve = opts.resolve ?? systemResolve;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    let url = parseUrl(rawUrl);
    for (let hop = 0; ; hop++) {
      const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
      const addresses = await checkedAddresses(host, allow, resolve);
      const res = await request(url, addresses, opts, controller.signal);
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode ?? 0) && location && !opts.anyStatus) {
        res.resume();
        if (hop >= (opts.maxRedirects ?? 5)) throw new SafeFetchError('too_many_redirects', 'Too many redirects');
        url = parseUrl(location, url.href);
        continue;
      }
      const status = res.statusCode ?? 0;
      if ((status < 200 || status >= 300) && !opts.anyStatus) {
        res.resume();
        throw new SafeFetchError('bad_status', `The server answered ${status}`, status);
      }
      const body = await readBody(res, opts.maxBytes, opts.anyStatus ?? false);
      return { url: url.href, status, contentType: String(res.headers['content-type'] ?? ''), body };
    }
  } catch (err) {
    if (controller.signal.aborted && !(err instanceof SafeFetchError && err.code !== 'unreachable')) {
      throw new SafeFetchError('timeout', `No complete answer within ${opts.timeoutMs} ms`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Request options as the pools see them: the checked addresses are part of a pool's key. */
type PinnedOptions = AgentOptions & { pinnedTo?: string };

/** Free sockets close after this: under the 5 s Node servers (and many proxies) keep an idle connection. */
const KEEP_ALIVE_IDLE_MS = 4000;

/**
 * Connections stay open for the next request to the same host (webhook deliveries to one receiver),
 * in pools keyed by the host and the addresses its check approved: a kept socket only serves a
 * request whose own check approved the address it is connected to. Node's global agent would key
 * them by the name alone, handing a socket opened for yesterday's address to today's request.
 */
class PinnedHttpAgent extends http.Agent {
  override getName(options: PinnedOptions = {}): string {
    return `${super.getName(options)}|${options.pinnedTo ?? ''}`;
  }
}
class PinnedHttpsAgent extends https.Agent {
  override getName(options: PinnedOptions = {}): string {
    return `${super.getName(options)}|${options.pinnedTo ?? ''}`;
  }
}
const pools = {
  'http:': new PinnedHttpAgent({ keepAlive: true, timeout: KEEP_ALIVE_IDLE_MS, scheduling: 'lifo' }),
  'https:': new PinnedHttpsAgent({ keepAlive: true, timeout: KEEP_ALIVE_IDLE_MS, scheduling: 'lifo' }),
};

function request(url: URL, addresses: string[], opts: SafeFetchOptions, signal: AbortSignal): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // `hostname` stays the name, so TLS checks the certificate (and SNI) for it; `lookup` pins the address.
    const headers = { 'user-agent': 'Operabase/1.0', ...opts.headers };
    const pool = { agent: pools[url.protocol as 'http:' | 'https:'], pinnedTo: addresses.join(',') };
    const req = client.request(url, { method: opts.method ?? 'GET', headers, lookup: pinned(addresses), signal, ...pool }, resolve);
    req.on('error', (err) => reject(signal.aborted ? err : new SafeFetchError('unreachable', `Could not reach ${url.host}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)));
    req.end(opts.body);
  });
}

function readBody(res: IncomingMessage, maxBytes: number, truncate: boolean): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes && !truncate) {
    res.destroy();
    return Promise.reject(new SafeFetchError('too_large', `The answer is larger than ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes && truncate) {
        parts.push(chunk.subarray(0, chunk.length - (size - maxBytes)));
        res.destroy();
        resolve(Buffer.concat(parts));
      } else if (size > maxBytes) {
        res.destroy();
        reject(new SafeFetchError('too_large', `The answer is larger than ${maxBytes} bytes`));
      } else parts.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
    // Aborted (the deadline) or cut by the server; a complete answer (or one already cut short here) has settled.
    res.on('close', () => {
      if (!res.complete && size <= maxBytes) reject(new SafeFetchError('unreachable', 'The connection closed before the answer ended'));
    });
  });
}
