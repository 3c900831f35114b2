/**
 * Runs ./driver.ts in a child process with a chosen environment. Why a child: libdbus inside
 * @napi-rs/keyring reads DBUS_SESSION_BUS_ADDRESS once per process, so each environment (private
 * session, no bus, locked keyring, "a fresh process") needs its own process. The driver is bundled
 * once per test file with esbuild (a tsup dependency); @napi-rs/keyring stays external and is
 * imported from this repository's node_modules by absolute path.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');

export type DriverRequest = {
  op: 'store-get' | 'store-set' | 'store-delete' | 'probe' | 'live-read' | 'live-write';
  /** codex-auth home (store ops). */
  home?: string;
  ref?: string;
  /** Secret or auth.json text (set / live-write). */
  value?: string;
  codexHome?: string;
  mode?: 'keyring' | 'auto';
  timeoutMs?: number;
};

export type DriverResponse =
  | { ok: true; result: unknown; ms: number; warnings: string[] }
  | { ok: false; ms: number; warnings: string[]; error: { name: string; message: string; code: string | null; reason: string | null } };

export interface DriverRun {
  response: DriverResponse;
  /** Everything the child printed (for "no secret in output" checks). */
  stdout: string;
  stderr: string;
  wallMs: number;
}

export interface Driver {
  run(req: DriverRequest, env: Record<string, string>, timeoutMs?: number): Promise<DriverRun>;
  dispose(): void;
}

/** Bundle the driver into a temp dir; call dispose() when done. */
export async function buildDriver(): Promise<Driver> {
  const { build } = await import('esbuild');
  const outDir = mkdtempSync(join(tmpdir(), 'codex-auth-keyring-driver-'));
  const outfile = join(outDir, 'driver.mjs');
  const keyringEntry = createRequire(join(REPO, 'package.json')).resolve('@napi-rs/keyring');
  await build({
    entryPoints: [join(HERE, 'driver.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    plugins: [
      {
        name: 'keyring-external',
        setup(b) {
          b.onResolve({ filter: /^@napi-rs\/keyring$/ }, () => ({ path: keyringEntry, external: true }));
        },
      },
    ],
  });
  return {
    run: (req, env, timeoutMs = 20_000) =>
      new Promise<DriverRun>((resolvePromise, reject) => {
        const started = Date.now();
        const child = spawn(process.execPath, [outfile], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          const line = stdout.trim().split('\n').pop() ?? '';
          try {
            resolvePromise({ response: JSON.parse(line) as DriverResponse, stdout, stderr, wallMs: Date.now() - started });
          } catch {
            reject(new Error(`driver gave no answer (exit ${String(code)}, signal ${String(signal)}) for ${req.op}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
          }
        });
        child.stdin.on('error', () => {});
        child.stdin.end(JSON.stringify(req));
      }),
    dispose: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
