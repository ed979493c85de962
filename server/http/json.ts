import type { Response } from 'express';

/**
 * Every JSON answer of the API. Node writes the headers and the string body in one send, with
 * the length computed for it; Express's res.json first copies the body into a Buffer and writes
 * twice, a measurable share of a fast request (bench/auth-me.ts). HEAD answers carry no body.
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
