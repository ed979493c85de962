// The two yardsticks of bench/auth-me.ts, each run as its own process: `bare` (node:http) and
// `express` (a minimal Express 5 route), both answering GET /api/auth/me with the same JSON.
import { createServer } from 'node:http';
import express from 'express';
import { ME_BODY } from './me-body.js';

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
} else {
  throw new Error(`unknown baseline ${kind}`);
}
