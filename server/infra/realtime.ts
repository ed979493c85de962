import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { ClientToServerEvents, EventPayload, ServerEvent, ServerToClientEvents } from '../../shared/api/events.js';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

export type TypedServer = Server<ClientToServerEvents, ServerToClientEvents>;

export interface SocketIdentity {
  clinicId: string;
  userId: string | null;
}

export interface RealtimeAttachOptions {
  /** Resolves the handshake to a clinic (same code as HTTP); throws when anonymous. */
  identify: (req: IncomingMessage, token: string | undefined) => Promise<SocketIdentity>;
  isAllowedOrigin: (origin: string | undefined) => boolean;
  redis?: Redis;
  log: Logger;
}

export const clinicRoom = (clinicId: string) => `clinic:${clinicId}`;
export const userRoom = (userId: string) => `user:${userId}`;

/**
 * The one way services push events. Created before the HTTP server exists, so services can hold
 * it; emits before `attach` (tests without sockets, jobs in a CLI) go nowhere.
 */
export class Realtime {
  private io?: TypedServer;
  private subscriber?: Redis;

  emitToClinic<E extends ServerEvent>(clinicId: string, event: E, payload: EventPayload<E>): void {
    // Socket.IO's typed emit cannot follow a generic event name.
    (this.io?.to(clinicRoom(clinicId)).emit as ((e: string, p: unknown) => void) | undefined)?.(event, payload);
  }

  emitToUser<E extends ServerEvent>(userId: string, event: E, payload: EventPayload<E>): void {
    (this.io?.to(userRoom(userId)).emit as ((e: string, p: unknown) => void) | undefined)?.(event, payload);
  }

  get connections(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  attach(server: HttpServer, opts: RealtimeAttachOptions): TypedServer {
    const io: TypedServer = new Server(server, {
      serveClient: false,
      cors: { origin: (origin, cb) => cb(null, opts.isAllowedOrigin(origin)), credentials: true },
      // Cookie-authenticated handshakes from foreign pages are refused (cross-site WebSocket hijacking).
      allowRequest: (req, cb) => {
        const origin = req.headers.origin;
        cb(null, origin === undefined || opts.isAllowedOrigin(origin) || isSameOrigin(req));
      },
    });
    if (opts.redis) {
      // A subscriber sends its commands as they come: auto-pipelining (set on the main client) would leave
      // the unsubscribe of close() queued behind the disconnect.
      this.subscriber = opts.redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, enableAutoPipelining: false });
      this.subscriber.on('error', () => {});
      io.adapter(createAdapter(opts.redis, this.subscriber));
    }
    io.use((socket: Socket, next) => {
      const token = bearer(socket);
      opts
        .identify(socket.request, token)
        .then((identity) => {
          socket.data = identity;
          void socket.join(clinicRoom(identity.clinicId));
          if (identity.userId) void socket.join(userRoom(identity.userId));
          next();
        })
        .catch(() => next(new Error('unauthorized')));
    });
    this.io = io;
    return io;
  }

  async close(): Promise<void> {
    const io = this.io;
    this.io = undefined;
    if (io) await new Promise<void>((resolve) => void io.close(() => resolve()));
    this.subscriber?.disconnect();
  }
}

function bearer(socket: Socket): string | undefined {
  const auth = socket.handshake.auth as { token?: unknown } | undefined;
  if (typeof auth?.token === 'string') return auth.token;
  const header = socket.handshake.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers['x-forwarded-host'] ?? req.headers.host;
  if (origin === undefined || typeof host !== 'string') return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
