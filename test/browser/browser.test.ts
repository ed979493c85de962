import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { buildTestApp } from '../helpers/app.js';
import { listen, type RunningServer } from '../helpers/server.js';
import { listeningPort } from '../../server/http-server.js';

// Debian's chromium; .ci/run installs it. Without it this file is skipped, loudly.
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const socketIoBundle = path.join(path.dirname(createRequire(import.meta.url).resolve('socket.io-client/package.json')), 'dist/socket.io.min.js');

/** The web app's origin: another port on 127.0.0.1, so cross-origin but same-site, like app.x.com -> api.x.com. */
function serveWebApp(): Promise<Server> {
  const page = readFileSync(new URL('./page.html', import.meta.url));
  const bundle = readFileSync(socketIoBundle);
  const server = createServer((req, res) => {
    if (req.url === '/socket.io.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe.skipIf(!hasChromium)('the API from a browser', { timeout: 90_000 }, () => {
  let browser: Browser;
  let webApp: Server;
  let webOrigin: string;
  let api: RunningServer;

  beforeAll(async () => {
    webApp = await serveWebApp();
    webOrigin = `http://127.0.0.1:${listeningPort(webApp)}`;
    api = await listen(await buildTestApp({ env: { CORS_ORIGINS: webOrigin } }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    webApp?.close();
  });

  it('a page on another origin registers, reads /me with its cookie and receives a clinic event over Socket.IO', async () => {
    const page = await browser.newPage();
    await page.goto(`${webOrigin}/`);
    const email = `navegador-${Date.now()}@example.com`;
    const result = await page.evaluate(([url, mail]) => (globalThis as unknown as { runApp: (a: string, e: string) => Promise<unknown> }).runApp(url, mail), [api.url, email] as const);
    expect(result).toMatchObject({
      registered: 201,
      // httpOnly: the page's scripts never see the session.
      cookieVisibleToScript: false,
      me: { user: { email, name: 'Dra. Navegadora' }, clinic: { name: 'Clínica do Navegador' }, role: 'admin' },
      patched: 200,
      payload: { name: 'Clínica Renomeada' },
    });
    await page.close();
  });

  it('/api/docs renders the reference with every request kept on the API origin', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const left: string[] = [];
    // Cut the network off: only the API's own origin answers.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === api.url) return route.continue();
      left.push(url);
      return route.abort();
    });
    await page.goto(`${api.url}/api/docs/`);
    await expect.poll(() => page.locator('.swagger-ui .info .title').textContent(), { timeout: 15_000 }).toContain('Operabase API');
    // Tags start collapsed: every feature's tag is listed, and opening one draws its operations.
    await page.locator('.opblock-tag', { hasText: 'WhatsApp' }).first().waitFor();
    expect(await page.locator('.opblock-tag').count()).toBeGreaterThan(10);
    await page.locator('.opblock-tag', { hasText: 'Auth' }).first().click();
    await page.locator('.opblock-summary-path', { hasText: '/api/auth/me' }).first().waitFor();
    expect(left).toEqual([]);
    await context.close();
  });
});
