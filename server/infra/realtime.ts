import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { ClientToServerEvents, EventPayload, JoinAck, ServerEvent, ServerToClientEvents } from '../../shared/api/events.js';
import { EVENT_PERMISSIONS } from '../lib/event-permissions.js';
import type { Permission } from '../lib/permissions.js';
import { hashToken } from '../lib/tokens.js';
import type { Logger } from './logger.js';
import type { Redis } from './redis.js';

/** What a socket's credential proves, kept on the socket and compared at each re-check. */
export interface SocketIdentity {
  clinicId: string;
  userId: string | null;
  /** The session of a cookie handshake; null for an API key. */
  sessionId: string | null;
  apiKeyId: string | null;
  /** The event permissions (see EVENT_PERMISSIONS) the actor holds in this clinic. */
  permissions: readonly Permission[];
  /** A member with the admin role (sees private entities, e.g. a professional's WhatsApp line). */
  admin: boolean;
}

/** Whether a socket may join a room of `kind` for the entity `id`: the same check the REST read of that entity makes. */
export type RoomAuthorizer = (identity: SocketIdentity, id: string) => Promise<boolean>;


export type TypedServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketIdentity>;
type TypedSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketIdentity>;

/** Resolves a handshake with the same code as HTTP: null when the credential is refused, throws when it cannot tell (store down). */
export type IdentifySocket = (req: IncomingMessage, token: string | undefined) => Promise<SocketIdentity | null>;

export interface RealtimeAttachOptions {
  identify: IdentifySocket;
  isAllowedOrigin: (origin: string | undefined) => boolean;
  redis?: Redis;
  log: Logger;
  /** How often each socket's credential is authenticated again (the backstop for expiry and anything missed). */
  recheckMs?: number;
}

const RECHECK_MS = 60_000;

// Rooms joined at handshake. Events go to permission rooms only; the others exist to end credentials.
const permissionRoom = (clinicId: string, permission: Permission) => `clinic:${clinicId}:perm:${permission}`;
const memberRoom = (clinicId: string, userId: string) => `clinic:${clinicId}:user:${userId}`;
const userRoom = (userId: string) => `user:${userId}`;
// Hashed: room names travel through Redis, and a session id is half of a cookie.
const sessionRoom = (sessionId: string) => `session:${hashToken(sessionId)}`;
const apiKeyRoom = (apiKeyId: string) => `apikey:${apiKeyId}`;
// A private entity's events: its owner and the clinic's admins, still within the event's permission.
const permissionOwnerRoom = (clinicId: string, permission: Permission, userId: string) => `${permissionRoom(clinicId, permission)}:user:${userId}`;
const permissionAdminRoom = (clinicId: string, permission: Permission) => `${permissionRoom(clinicId, permission)}:admin`;
/** A room of one entity (`conversation`), joined on request after its authorizer agreed. */
const entityRoom = (clinicId: string, kind: string, id: string) => `clinic:${clinicId}:${kind}:${id}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function roomsOf(identity: SocketIdentity): string[] {
  const rooms = identity.permissions.map((p) => permissionRoom(identity.clinicId, p));
  if (identity.userId) {
    const userId = identity.userId;
    rooms.push(userRoom(userId), memberRoom(identity.clinicId, userId));
    rooms.push(...identity.permissions.map((p) => permissionOwnerRoom(identity.clinicId, p, userId)));
    if (identity.admin) rooms.push(...identity.permissions.map((p) => permissionAdminRoom(identity.clinicId, p)));
  }
  if (identity.sessionId) rooms.push(sessionRoom(identity.sessionId));
  if (identity.apiKeyId) rooms.push(apiKeyRoom(identity.apiKeyId));
  return rooms;
}

const sameAccess = (a: SocketIdentity, b: SocketIdentity) =>
  a.clinicId === b.clinicId && a.admin === b.admin && a.userId === b.userId && a.sessionId === b.sessionId && a.apiKeyId === b.apiKeyId && [...a.permissions].sort().join() === [...b.permissions].sort().join();

/**
 * The one way services push events. Created before the HTTP server exists, so services can hold
 * it; emits before `attach` (tests without sockets, jobs in a CLI) go nowhere.
 */
export class Realtime {
  private io?: TypedServer;
  private subscriber?: Redis;
  private readonly authorizers = new Map<string, RoomAuthorizer>();

  /** To the sockets of the clinic whose actor may read the event's entity (EVENT_PERMISSIONS). */
  emitToClinic<E extends ServerEvent>(clinicId: string, event: E, payload: EventPayload<E>): void {
    this.emit(permissionRoom(clinicId, EVENT_PERMISSIONS[event]), event, payload);
  }

  /** Like emitToClinic, narrowed to one member and the clinic's admins (a private entity). */
  emitToOwner<E extends ServerEvent>(clinicId: string, ownerUserId: string, event: E, payload: EventPayload<E>): void {
    const permission = EVENT_PERMISSIONS[event];
    this.emit([permissionOwnerRoom(clinicId, permission, ownerUserId), permissionAdminRoom(clinicId, permission)], event, payload);
  }

  /** To the sockets that joined the room of one entity (`conversation:join`). */
  emitToRoom<E extends ServerEvent>(clinicId: string, kind: string, id: string, event: E, payload: EventPayload<E>): void {
    this.emit(entityRoom(clinicId, kind, id), event, payload);
  }

  /**
   * Lets clients join `<kind>` rooms with `<kind>:join` `{ id }` (and leave with `<kind>:leave`);
   * `authorize` decides each join. Set by the feature that owns the entity, before `attach` (modules
   * built again on the same infra replace it).
   */
  allowRooms(kind: 'conversation', authorize: RoomAuthorizer): void {
    this.authorizers.set(kind, authorize);
  }

  /** Logout: the sockets of that session. */
  endSession(sessionId: string): void {
    this.disconnect(sessionRoom(sessionId));
  }

  /** Removal, deactivation or role change (in one clinic); password change or reset (everywhere). */
  endUser(userId: string, clinicId?: string): void {
    this.disconnect(clinicId ? memberRoom(clinicId, userId) : userRoom(userId));
  }

  /** Revocation: the sockets of that key. */
  endApiKey(apiKeyId: string): void {
    this.disconnect(apiKeyRoom(apiKeyId));
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
      io.adapter(createAdapter(unawaited(opts.redis, ['publish']), unawaited(this.subscriber, ['punsubscribe', 'unsubscribe'])));
    }
    io.use((socket: TypedSocket, next) => {
      opts.identify(socket.request, bearer(socket)).then(
        (identity) => {
          if (!identity) return next(new Error('unauthorized'));
          socket.data = identity;
          void socket.join(roomsOf(identity));
          next();
        },
        (err: unknown) => {
          opts.log.warn({ err }, 'socket handshake could not be authenticated');
          next(new Error('unavailable'));
        },
      );
    });
    io.on('connection', (socket) => {
      this.recheckPeriodically(socket, opts);
      for (const [kind, authorize] of this.authorizers) this.serveRooms(socket, kind, authorize, opts.log);
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

  private serveRooms(socket: TypedSocket, kind: string, authorize: RoomAuthorizer, log: Logger) {
    // Client events are untyped input: check the shape before anything else.
    const on = socket.on.bind(socket) as unknown as (event: string, listener: (payload: unknown, ack?: unknown) => void) => void;
    on(`${kind}:join`, (payload, ack) => {
      const reply = typeof ack === 'function' ? (ack as (a: JoinAck) => void) : () => {};
      const id = (payload as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || !UUID.test(id)) return reply({ ok: false, error: 'invalid' });
      authorize(socket.data, id).then(
        async (allowed) => {
          if (!allowed || !socket.connected) return reply({ ok: false, error: 'not_found' });
          await socket.join(entityRoom(socket.data.clinicId, kind, id));
          reply({ ok: true });
        },
        (err: unknown) => {
          log.warn({ err, kind }, 'room join could not be checked');
          reply({ ok: false, error: 'unavailable' });
        },
      );
    });
    on(`${kind}:leave`, (payload) => {
      const id = (payload as { id?: unknown } | null)?.id;
      if (typeof id === 'string' && UUID.test(id)) void socket.leave(entityRoom(socket.data.clinicId, kind, id));
    });
  }

  private emit(room: string | string[], event: ServerEvent, payload: unknown) {
    // Socket.IO's typed emit cannot follow a generic event name.
    (this.io?.to(room).emit as ((e: string, p: unknown) => void) | undefined)?.(event, payload);
  }

  private disconnect(room: string) {
    const io = this.io;
    if (!io) return;
    // Local sockets at once, even with Redis down; the adapter tells the other instances.
    io.local.in(room).disconnectSockets(true);
    if (this.subscriber) io.in(room).disconnectSockets(true);
  }

  /**
   * Authenticates the socket's credential again every `recheckMs` (jittered, so sockets that
   * connected together do not re-check together) and disconnects it when refused or when its
   * clinic or permissions changed. Catches session expiry and any ending whose call was missed.
   * A failure to tell (Redis down) keeps the socket until the next check.
   */
  private recheckPeriodically(socket: TypedSocket, opts: RealtimeAttachOptions) {
    const every = opts.recheckMs ?? RECHECK_MS;
    let timer: NodeJS.Timeout;
    const schedule = () => {
      timer = setTimeout(() => void check(), every * (0.8 + Math.random() * 0.2));
      timer.unref();
    };
    const check = async () => {
      try {
        const now = await opts.identify(socket.request, bearer(socket));
        if (!now || !sameAccess(socket.data, now)) {
          socket.disconnect(true);
          return;
        }
      } catch (err) {
        opts.log.warn({ err }, 'socket credential re-check failed; kept until the next one');
      }
      if (socket.connected) schedule();
    };
    schedule();
    socket.once('disconnect', () => clearTimeout(timer));
  }
}

/**
 * The adapter publishes, and unsubscribes when it closes, without awaiting: with Redis down each emit,
 * and a close while the subscriber reconnects, would leave an unhandled rejection ("Connection is
 * closed."). Meanwhile events reach this instance's own sockets only; other instances' from the
 * reconnect on (the subscriber resubscribes by itself).
 */
function unawaited(redis: Redis, methods: readonly string[]): Redis {
  return new Proxy(redis, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !methods.includes(prop) || typeof value !== 'function') return value;
      return (...args: unknown[]) => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch(() => 0);
    },
  });
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
