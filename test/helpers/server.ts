import type { Server } from 'node:http';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/api/events.js';
import { listeningPort, startServer } from '../../server/http-server.js';
import { TEST_ORIGIN, type TestApp } from './app.js';
import { PASSWORD } from './clinic.js';

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** The app on a real port (127.0.0.1, port 0) with Socket.IO attached exactly as in production. */
export async function listen(app: TestApp, opts: { socketRecheckMs?: number } = {}): Promise<RunningServer> {
  const server = await startServer(app.infra, app, { port: 0, host: '127.0.0.1', ...opts });
  return {
    url: `http://127.0.0.1:${listeningPort(server)}`,
    server,
    close: async () => {
      await app.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Signs in over real HTTP and returns the session cookie (`name=value`). */
export async function sessionCookie(url: string, email: string, password = PASSWORD): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('opb.sid='));
  if (!cookie) throw new Error('login set no session cookie');
  return cookie.split(';')[0] as string;
}

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Opens a websocket the way a browser or an N8N client would; resolves once the server accepted it. */
export function openSocket(url: string, opts: { cookie?: string; origin?: string; token?: string } = {}): Promise<ClientSocket> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin) headers.origin = opts.origin;
  const socket: ClientSocket = connect(url, {
    transports: ['websocket'],
    extraHeaders: headers,
    auth: opts.token ? { token: opts.token } : {},
    reconnection: false,
    forceNew: true,
    timeout: 5000,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Resolves with the next payload of `event`, or rejects after `ms`. */
export function nextEvent<E extends keyof ServerToClientEvents>(socket: ClientSocket, event: E, ms = 5000): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event as never, ((payload: Parameters<ServerToClientEvents[E]>[0]) => {
      clearTimeout(timer);
      resolve(payload);
    }) as never);
  });
}

/** Collects every `event` the socket receives, to prove later that nothing arrived. */
export function collect<E extends keyof ServerToClientEvents>(socket: ClientSocket, event: E): unknown[] {
  const seen: unknown[] = [];
  socket.on(event as never, ((payload: unknown) => seen.push(payload)) as never);
  return seen;
}

/** Resolves with the reason once the server disconnects the socket, or rejects after `ms`. */
export function disconnection(socket: ClientSocket, ms = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.disconnected) return reject(new Error('socket was not connected'));
    const timer = setTimeout(() => reject(new Error(`still connected after ${ms} ms`)), ms);
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}
