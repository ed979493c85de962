// A browser-like client as the ALB forwards it: HTTPS already terminated (X-Forwarded-Proto),
// the web app's Origin on every request, and a cookie jar that keeps Secure cookies.
import { io, type Socket } from 'socket.io-client';

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  upstream: string;
  setCookies: string[];
}

export class Client {
  private readonly jar = new Map<string, string>();

  constructor(
    readonly baseUrl: string,
    readonly origin: string,
  ) {}

  /** Same cookies, another address (a second instance, or nginx). */
  at(baseUrl: string): Client {
    const other = new Client(baseUrl, this.origin);
    for (const [k, v] of this.jar) other.jar.set(k, v);
    return other;
  }

  get cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get headers(): Record<string, string> {
    const headers: Record<string, string> = { origin: this.origin, 'x-forwarded-proto': 'https' };
    if (this.jar.size > 0) headers.cookie = this.cookieHeader;
    return headers;
  }

  async request(method: string, path: string, opts: { json?: unknown; form?: FormData; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers = { ...this.headers, ...opts.headers };
    let body: string | FormData | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.form) body = opts.form;
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body, redirect: 'manual', signal: opts.signal });
    const setCookies = res.headers.getSetCookie();
    for (const cookie of setCookies) {
      const [pair] = cookie.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) this.jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (an nginx error page): keep the text for the report
    }
    return { status: res.status, headers: res.headers, body: parsed, upstream: res.headers.get('x-rehearsal-upstream') ?? '', setCookies };
  }

  /** Socket.IO over WebSocket only (no long-polling fallback), authenticated by the session cookie. */
  async socket(baseUrl = this.baseUrl): Promise<Socket> {
    const socket = io(baseUrl, {
      transports: ['websocket'],
      reconnection: false,
      timeout: 5000,
      extraHeaders: this.headers,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err) => reject(new Error(`socket did not connect to ${baseUrl}: ${err.message}`)));
    });
    return socket;
  }
}

/** Resolves with the payload of the next `event` on the socket, or rejects after timeoutMs. */
export function nextEvent<T>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, onEvent);
      reject(new Error(`no ${event} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const onEvent = (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    };
    socket.once(event, onEvent);
  });
}
