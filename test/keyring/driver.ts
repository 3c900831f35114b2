/**
 * Child-process entry for the real-keyring tests (bundled by ./run-driver.ts). It reads ONE JSON
 * request on stdin (secrets travel on stdin, never in argv), runs it against the real
 * @napi-rs/keyring backend with this process's environment (the private session's
 * DBUS_SESSION_BUS_ADDRESS), and prints ONE JSON line: {ok, result | error, ms}. `ms` counts only the
 * keyring work, not Node's start-up.
 */
import { KeyringError, KeyringSecretStore, NapiKeyringBackend, probeKeyring } from '../../src/store/keyring.js';
import { AutoLiveCredentials, KeyringLiveCredentials } from '../../src/store/live-keyring.js';
import { resolvePaths } from '../../src/store/paths.js';
import type { DriverRequest, DriverResponse } from './run-driver.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function run(req: DriverRequest, warnings: string[]): Promise<unknown> {
  const backend = new NapiKeyringBackend();
  const timeoutMs = req.timeoutMs ?? 3000;
  switch (req.op) {
    case 'store-get':
    case 'store-set':
    case 'store-delete': {
      const store = new KeyringSecretStore({ home: req.home ?? '', backend, timeoutMs });
      const ref = req.ref ?? '';
      if (req.op === 'store-get') return store.get(ref);
      if (req.op === 'store-set') return store.set(ref, req.value ?? '');
      return store.delete(ref);
    }
    case 'probe': {
      const r = await probeKeyring(backend, timeoutMs);
      if (!r.ok) throw r.error;
      return { backend: r.backend };
    }
    case 'live-read':
    case 'live-write': {
      const env: NodeJS.ProcessEnv = { ...process.env, CODEX_HOME: req.codexHome ?? '' };
      const paths = resolvePaths({ env, homedir: process.env.HOME ?? '/', cwd: process.cwd() });
      const opts = { env, backend, timeoutMs, warn: (m: string) => warnings.push(m) };
      const live = req.mode === 'auto' ? new AutoLiveCredentials(paths, opts) : new KeyringLiveCredentials(paths, opts);
      if (req.op === 'live-read') {
        const text = await live.read();
        return { text, location: live.location, source: live instanceof AutoLiveCredentials ? live.lastSource : 'keyring' };
      }
      await live.withLock(() => live.write(req.value ?? ''));
      return { location: live.location, source: live instanceof AutoLiveCredentials ? live.lastSource : 'keyring' };
    }
    default:
      throw new Error(`unknown op ${String((req as { op: unknown }).op)}`);
  }
}

async function main(): Promise<void> {
  const req = JSON.parse(await readStdin()) as DriverRequest;
  const warnings: string[] = [];
  const started = performance.now();
  let res: DriverResponse;
  try {
    const result = await run(req, warnings);
    res = { ok: true, result: result ?? null, ms: performance.now() - started, warnings };
  } catch (e) {
    const err = e as Error;
    res = {
      ok: false,
      ms: performance.now() - started,
      warnings,
      error: {
        name: err.name,
        message: err.message,
        code: (err as { code?: string }).code ?? null,
        reason: e instanceof KeyringError ? e.reason : null,
      },
    };
  }
  process.stdout.write(`${JSON.stringify(res)}\n`);
  // A keyring call cut off by the timeout may still be pending in the native thread pool.
  process.exit(0);
}

void main();
