// Step 2: Debian's nginx laid out like Elastic Beanstalk's (Node.js on Amazon Linux 2023): the
// bundle's .platform/nginx/nginx.conf in place of EB's (as EB does), EB's generated `location /` in
// conf.d/elasticbeanstalk/, and the bundle's .platform/nginx/conf.d/ files copied in as EB copies them.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { check } from './harness.js';
import { run } from './run.js';

/** On EB the app listens on 8080 (PORT in .ebextensions); here every 127.0.0.1:8080 becomes this upstream. */
const EB_APP_ADDRESS = '127.0.0.1:8080';
const UPSTREAM = 'eb_rehearsal_app';

const SBIN = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];

export async function ensureNginx(log: (line: string) => void): Promise<string> {
  const found = SBIN.find((p) => existsSync(p));
  if (found) return found;
  log('nginx is not installed: apt-get install -y nginx');
  const asRoot = process.getuid?.() === 0;
  const apt = (args: string[]) =>
    asRoot ? run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : run('sudo', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args]);
  const first = await apt(['install', '-y', 'nginx']).catch(() => undefined);
  if (!first) {
    await apt(['update']);
    await apt(['install', '-y', 'nginx']);
  }
  const installed = SBIN.find((p) => existsSync(p));
  check(installed, 'apt-get installed nginx but no nginx binary was found');
  return installed;
}

/**
 * The bundle's `.platform/nginx/nginx.conf`, which EB puts in place of its own, moved into the
 * rehearsal folder: logs, pid and temp files there, the listener on a free port, the user this
 * process can be. Each change names the line it replaces, so a reworded file fails loudly here.
 */
function rehearsalNginxConf(bundleDir: string, dir: string, listenPort: number): string {
  const file = path.join(bundleDir, '.platform/nginx/nginx.conf');
  check(existsSync(file), 'the bundle has no .platform/nginx/nginx.conf');
  const runsAsRoot = process.getuid?.() === 0;
  const temp = ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t === 'body' ? 'client_body' : t}_temp_path ${dir}/tmp/${t};`).join('\n');
  const changes: [RegExp, string][] = [
    [/^user\s+nginx;$/m, runsAsRoot ? 'user root;' : ''],
    [/^error_log\s+\/var\/log\/nginx\/error\.log/m, `error_log ${dir}/error.log`],
    [/^pid\s+\/var\/run\/nginx\.pid;$/m, `pid ${dir}/nginx.pid;`],
    [/^http \{$/m, `http {\n${temp}`],
    [/^(\s+)listen\s+80 default_server;$/m, `$1listen 127.0.0.1:${listenPort} default_server;`],
    [/^(\s+)access_log\s+\/var\/log\/nginx\/access\.log main;$/m, `$1access_log ${dir}/access.log main;\n$1# Rehearsal only: which instance answered, so two-instance checks can see both.\n$1add_header X-Rehearsal-Upstream $upstream_addr always;`],
  ];
  let text = readFileSync(file, 'utf8');
  for (const [pattern, replacement] of changes) {
    check(pattern.test(text), `.platform/nginx/nginx.conf has no line matching ${pattern}`);
    text = text.replace(pattern, replacement);
  }
  return text;
}

/** What EB generates in conf.d/elasticbeanstalk/00_application.conf for the Node.js platform. */
const EB_APPLICATION_CONF = `location / {
    proxy_pass          http://${EB_APP_ADDRESS};
    proxy_http_version  1.1;

    proxy_set_header    Connection          $connection_upgrade;
    proxy_set_header    Upgrade             $http_upgrade;
    proxy_set_header    Host                $host;
    proxy_set_header    X-Real-IP           $remote_addr;
    proxy_set_header    X-Forwarded-For     $proxy_add_x_forwarded_for;
}
`;

function listConfFiles(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const full = path.join(root, name);
    return statSync(full).isDirectory() ? listConfFiles(full) : name.endsWith('.conf') ? [full] : [];
  });
}

export class Nginx {
  readonly dir: string;
  readonly confFile: string;

  constructor(
    private readonly binary: string,
    workDir: string,
    readonly port: number,
  ) {
    this.dir = path.join(workDir, 'nginx');
    this.confFile = path.join(this.dir, 'nginx.conf');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes the EB layout from the bundle's .platform/nginx files, proxying to the given app ports. */
  configure(bundleDir: string, appPorts: number[]): string[] {
    const confD = path.join(this.dir, 'conf.d');
    mkdirSync(path.join(confD, 'elasticbeanstalk'), { recursive: true });
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(this.dir, 'tmp', sub), { recursive: true });
    writeFileSync(this.confFile, rehearsalNginxConf(bundleDir, this.dir, this.port));
    writeFileSync(path.join(confD, 'elasticbeanstalk', '00_application.conf'), EB_APPLICATION_CONF);
    const platformConfD = path.join(bundleDir, '.platform/nginx/conf.d');
    check(existsSync(platformConfD), 'the bundle has no .platform/nginx/conf.d');
    cpSync(platformConfD, confD, { recursive: true });
    // EB's single app address becomes an upstream of the rehearsal's instances.
    writeFileSync(path.join(confD, '00_rehearsal_upstream.conf'), `upstream ${UPSTREAM} {\n${appPorts.map((p) => `    server 127.0.0.1:${p};\n`).join('')}}\n`);
    const copied: string[] = [];
    for (const file of listConfFiles(confD)) {
      const text = readFileSync(file, 'utf8');
      if (text.includes(EB_APP_ADDRESS)) writeFileSync(file, text.replaceAll(`http://${EB_APP_ADDRESS}`, `http://${UPSTREAM}`));
      copied.push(path.relative(confD, file));
    }
    return copied.sort();
  }

  async test(): Promise<string> {
    const result = await run(this.binary, ['-t', '-p', this.dir, '-c', this.confFile, '-e', path.join(this.dir, 'error.log')], { allowFailure: true });
    check(result.code === 0, `nginx -t rejected the configuration:\n${result.stderr.trim()}`);
    return result.stderr.trim().split('\n').pop() ?? '';
  }

  async start() {
    await run(this.binary, ['-p', this.dir, '-c', this.confFile, '-e', path.join(this.dir, 'error.log')]);
  }

  async reload() {
    await run(this.binary, ['-p', this.dir, '-c', this.confFile, '-e', path.join(this.dir, 'error.log'), '-s', 'reload']);
  }

  async stop() {
    if (existsSync(path.join(this.dir, 'nginx.pid'))) {
      await run(this.binary, ['-p', this.dir, '-c', this.confFile, '-e', path.join(this.dir, 'error.log'), '-s', 'quit'], { allowFailure: true });
    }
  }
}
