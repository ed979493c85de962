/** Signs in like the web app (session cookie) and times authenticated GETs one at a time. */
export async function signedInTimer(base: string, origin: string, email: string, password: string) {
  const login = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify({ email, password }) });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status}`);

  async function timed(url: string): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(`${base}${url}`, { headers: { cookie } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    return performance.now() - t0;
  }

  /** Prints p50/p95/p99/max of `runs` requests after `warmup`; returns the p95 in ms. */
  async function measure(name: string, url: string, warmup: number, runs: number): Promise<number> {
    for (let i = 0; i < warmup; i++) await timed(url);
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await timed(url));
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
    console.log(`${name.padEnd(48)} n=${runs}  p50 ${at(0.5).toFixed(1)} ms  p95 ${at(0.95).toFixed(1)} ms  p99 ${at(0.99).toFixed(1)} ms  max ${at(1).toFixed(1)} ms`);
    return at(0.95);
  }

  return { cookie, measure };
}
