import express, { type Router } from 'express';
import helmet from 'helmet';

const PAGE = `<!doctype html>
<html lang="pt-BR">
<head>
  <meta charset="utf-8">
  <title>Operabase API</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>`;

// A file, not an inline script, so the strict Content-Security-Policy stays on. Tags start
// collapsed, with a filter box: with all 147 operations expanded Swagger UI 5 stopped drawing after
// the ninth (131 still drew; found 2026-12-01).
const INIT = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', withCredentials: true, deepLinking: true, docExpansion: 'none', filter: true });`;

/** Interactive reference served from the installed swagger-ui-dist package: works with no network. */
export function docsRouter(assetsDir: string): Router {
  const router = express.Router();
  // A page, unlike the API's JSON: helmet's default page policy (scripts and styles from here only).
  router.use(helmet({ crossOriginResourcePolicy: { policy: 'same-site' } }));
  router.get('/', (_req, res) => void res.type('html').send(PAGE));
  router.get('/init.js', (_req, res) => void res.type('application/javascript').send(INIT));
  router.use('/assets', express.static(assetsDir, { index: false, maxAge: '1d' }));
  return router;
}
