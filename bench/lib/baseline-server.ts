// The yardsticks of bench/auth-me.ts, each run as its own process, all answering GET /api/auth/me
// with the same JSON: `bare` (node:http), `express` (a minimal Express 5 route), and `session`
// (Express 5 + express-session + connect-redis 7 over ioredis with `disableTouch`, the JSON read
// from the session, which POST /api/auth/login fills).
import { createServer } from 'node:http';
import express from 'express';
import session from 'express-session';
import RedisStore from 'connect-redis';
import { Redis } from 'ioredis';
import { ME_BODY } from './me-body.js';

declare module 'express-session' {
  interface SessionData {
    me: typeof ME_BODY;
  }
}

const kind = process.argv[2];
const port = Number(process.env.PORT);
const health = { status: 'ok' };

if (kind === 'bare') {
  createServer((req, res) => {
    const body = JSON.stringify(req.url === '/api/auth/me' ? ME_BODY : health);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(port, '127.0.0.1');
} else if (kind === 'express') {
  const app = express();
  app.get('/api/auth/me', (_req, res) => void res.json(ME_BODY));
  app.get('/api/health', (_req, res) => void res.json(health));
  app.listen(port, '127.0.0.1');
} else if (kind === 'session') {
  const redis = new Redis(process.env.REDIS_URL as string);
  const app = express();
  app.get('/api/health', (_req, res) => void res.json(health));
  app.use(
    session({
      name: 'opb.sid',
      secret: process.env.SESSION_SECRET as string,
      store: new RedisStore({ client: redis, prefix: process.env.REDIS_PREFIX, disableTouch: true }),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, maxAge: 12 * 3600_000 },
    }),
  );
  app.post('/api/auth/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.me = ME_BODY;
      res.json({ ok: true });
    });
  });
  app.get('/api/auth/me', (req, res) => {
    if (!req.session.me) return void res.status(401).json({ error: 'unauthorized' });
    res.json(req.session.me);
  });
  app.listen(port, '127.0.0.1');
} else {
  throw new Error(`unknown baseline ${kind}`);
}
