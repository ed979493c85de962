import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, safeFetch, SafeFetchError, type SafeFetchOptions } from '../../server/lib/safe-fetch.js';

let server: Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/ok') return res.writeHead(200, { 'content-type': 'text/plain' }).end(`olá ${req.headers.host}`);
    // Which connection the request came on.
    if (req.url === '/port') return res.writeHead(200, { 'content-type': 'text/plain' }).end(String(req.socket.remotePort));
    if (req.url?.startsWith('/redirect?to=')) return res.writeHead(302, { location: decodeURIComponent(req.url.slice('/redirect?to='.length)) }).end();
    if (req.url === '/big') return res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2048' }).end('a'.repeat(2048));
    if (req.url === '/big-chunked') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a'.repeat(1500));
      return res.end('a'.repeat(1500));
    }
    if (req.url === '/hang') return; // never answers
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const base: SafeFetchOptions = { maxBytes: 1024, timeoutMs: 2000 };

async function refusal(url: string, opts: Partial<SafeFetchOptions> = {}): Promise<string> {
  const err = await safeFetch(url, { ...base, ...opts }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, url).toBeInstanceOf(SafeFetchError);
  return (err as SafeFetchError).code;
}

describe('addresses', () => {
  it('only global unicast addresses are public, IPv4-mapped IPv6 judged as IPv4', () => {
    const inside = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.0.10', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'fc00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '64:ff9b::7f00:1', '2002:7f00:1::'];
    for (const a of inside) expect(isPublicAddress(a), a).toBe(false);
    for (const a of ['8.8.8.8', '200.147.67.142', '2001:4860:4860::8888', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
  });
});

describe('safeFetch refuses the inside', () => {
  it('loopback, metadata, private, CGNAT and IPv6 loopback literals, before connecting', async () => {
    const before = hits;
    for (const url of [`http://127.0.0.1:${port}/ok`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.5/', 'http://100.64.1.1/', `http://[::1]:${port}/ok`, `http://[::ffff:127.0.0.1]:${port}/ok`, `http://2130706433:${port}/ok`, `http://0x7f.1:${port}/ok`]) {
      expect(await refusal(url), url).toBe('blocked_address');
    }
    expect(hits).toBe(before);
  });

  it('a name that resolves to loopback: localhost, or any name a resolver maps there', async () => {
    expect(await refusal(`http://localhost:${port}/ok`)).toBe('blocked_address');
    expect(await refusal(`http://wiki.clinica.test:${port}/ok`, { resolve: async () => ['127.0.0.1'] })).toBe('blocked_address');
    // One inside address among public ones is enough to refuse.
    expect(await refusal(`http://misto.example:${port}/ok`, { resolve: async () => ['93.184.216.34', '127.0.0.1'] })).toBe('blocked_address');
  });

  it('a redirect to a private or metadata address, from an allowed host', async () => {
    for (const to of ['http://169.254.169.254/latest/meta-data/', 'http://192.168.0.1/admin', `http://[::1]:${port}/ok`]) {
      expect(await refusal(`http://127.0.0.1:${port}/redirect?to=${encodeURIComponent(to)}`, { allowHosts: ['127.0.0.1'] }), to).toBe('blocked_address');
    }
  });

  it('other schemes and credentials in the URL', async () => {
    expect(await refusal('ftp://example.com/a')).toBe('invalid_url');
    expect(await refusal('file:///etc/passwd')).toBe('invalid_url');
    expect(await refusal('http://user:senha@example.com/')).toBe('invalid_url');
  });
});

describe('safeFetch with OUTBOUND_ALLOW_HOSTS', () => {
  it('an allowed address, CIDR range or name reaches the intranet host', async () => {
    for (const allowHosts of [['127.0.0.1'], ['127.0.0.0/8'], [' 10.0.0.0/8 ', '127.0.0.1']]) {
      const res = await safeFetch(`http://127.0.0.1:${port}/ok`, { ...base, allowHosts });
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe(`olá 127.0.0.1:${port}`);
    }
  });

  it('connects to the address it checked (pinned): the name is resolved once and never again', async () => {
    let lookups = 0;
    const res = await safeFetch(`http://wiki.clinica.test:${port}/ok`, {
      ...base,
      allowHosts: ['wiki.clinica.test'],
      resolve: async () => {
        lookups++;
        return ['127.0.0.1'];
      },
    });
    // The name exists in no DNS: the socket went to the pinned address, and Host kept the name.
    expect(res.body.toString()).toBe(`olá wiki.clinica.test:${port}`);
    expect(lookups).toBe(1);
  });

  it('keeps a connection open only for requests whose own check approved its address', async () => {
    // A second host on another loopback address, same port: whoever answers tells which address the request reached.
    const other = createServer((req, res) => res.end(`other ${req.socket.remotePort}`));
    await new Promise<void>((resolve) => other.listen(port, '127.0.0.2', resolve));
    try {
      let address = '127.0.0.1';
      const opts = { ...base, allowHosts: ['127.0.0.0/8'], resolve: async () => [address] };
      const first = (await safeFetch(`http://n8n.clinica.test:${port}/port`, opts)).body.toString();
      expect((await safeFetch(`http://n8n.clinica.test:${port}/port`, opts)).body.toString()).toBe(first);
      // The name moved: the open connection to the old address is not handed to the new one.
      address = '127.0.0.2';
      expect((await safeFetch(`http://n8n.clinica.test:${port}/port`, opts)).body.toString()).toMatch(/^other /);
      // The name now points where the check refuses: no request at all, the open connections unused.
      address = '10.0.0.5';
      const before = hits;
      expect(await refusal(`http://n8n.clinica.test:${port}/port`, { ...opts, allowHosts: ['127.0.0.1'] })).toBe('blocked_address');
      expect(hits).toBe(before);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  it('follows redirects between allowed hosts', async () => {
    const res = await safeFetch(`http://127.0.0.1:${port}/redirect?to=%2Fok`, { ...base, allowHosts: ['127.0.0.1'] });
    expect(res.url).toBe(`http://127.0.0.1:${port}/ok`);
    expect(res.status).toBe(200);
  });
});

describe('safeFetch limits', () => {
  const allowHosts = ['127.0.0.1'];
  it('size (declared or streamed), time, unreachable and error statuses', async () => {
    expect(await refusal(`http://127.0.0.1:${port}/big`, { allowHosts })).toBe('too_large');
    expect(await refusal(`http://127.0.0.1:${port}/big-chunked`, { allowHosts })).toBe('too_large');
    const t0 = Date.now();
    expect(await refusal(`http://127.0.0.1:${port}/hang`, { allowHosts, timeoutMs: 300 })).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await refusal(`http://127.0.0.1:${port}/missing`, { allowHosts })).toBe('bad_status');
    expect(await refusal('http://127.0.0.1:1/', { allowHosts })).toBe('unreachable');
    expect(await refusal('http://nao-existe.invalid/', {})).toBe('unreachable');
    expect(await refusal(`http://127.0.0.1:${port}/redirect?to=%2Fredirect%3Fto%3D%252Fok`, { allowHosts, maxRedirects: 1 })).toBe('too_many_redirects');
  });
});
