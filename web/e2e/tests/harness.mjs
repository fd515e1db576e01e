// Shared helpers: start `noegle demo` on a free port with a fresh data directory, and launch Debian's chromium.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');
export const outDir = join(repo, 'web/e2e/out');
mkdirSync(outDir, { recursive: true });

/** The path of a built binary of the workspace (release preferred). */
export function binary(name = 'noegle') {
  const fromEnv = { noegle: process.env.NOEGLE_BIN, noegleapp: process.env.NOEGLEAPP_BIN }[name];
  if (fromEnv) return fromEnv;
  for (const p of [`target/release/${name}`, `target/debug/${name}`]) {
    if (existsSync(join(repo, p))) return join(repo, p);
  }
  throw new Error(`build ${name} first: cargo build --release -p ${name}`);
}

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

/** Starts `noegle demo`; resolves when /readyz answers. */
export async function startDemo(extraEnv = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'noegle-e2e-'));
  const child = spawn(binary(), ['demo', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NOEGLE_LOG: 'warn', ...extraEnv },
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`noegle demo exited: ${output}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const card = JSON.parse(readFileSync(join(dataDir, 'demo-keycard.json'), 'utf8'));
  return {
    base,
    card,
    dataDir,
    output: () => output,
    stop: () => new Promise((res) => { child.once('exit', res); child.kill('SIGTERM'); }),
  };
}

/**
 * Starts `noegle-testserver` (crates/testkit): Demo Bank, a user with a key card, and a clock the test moves
 * with `advance(secs)`. Resolves with { base, user_id, password, card, advance, stop }.
 */
export async function startTestServer(args = []) {
  const bin = process.env.NOEGLE_TESTSERVER_BIN ?? binary('noegle-testserver');
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NOEGLE_LOG: 'warn' } });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const lines = [];
  let waiting = null;
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d;
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      waiting?.();
    }
  });
  const nextLine = async () => {
    while (lines.length === 0) {
      if (child.exitCode !== null) throw new Error(`noegle-testserver exited: ${err}`);
      await new Promise((r) => { waiting = r; setTimeout(r, 200); });
    }
    return lines.shift();
  };
  const hello = JSON.parse(await nextLine());
  return {
    ...hello,
    /** Moves the server's clock forward; resolves with the new time. */
    advance: async (secs) => {
      child.stdin.write(`advance ${secs}\n`);
      return Number((await nextLine()).split(' ')[1]);
    },
    stop: () => new Promise((res) => { child.once('exit', res); child.stdin.end(); }),
  };
}

export function launchChromium() {
  const candidates = ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];
  const executablePath = candidates.find((p) => existsSync(p));
  if (!executablePath) throw new Error('install chromium: apt-get install -y chromium');
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
