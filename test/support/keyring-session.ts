/**
 * A real, private Secret Service for tests: its own D-Bus session bus (dbus-daemon with a config of
 * our own: a socket inside a temp dir, no service activation) and its own gnome-keyring-daemon
 * (secrets component only) with a temporary HOME / XDG_DATA_HOME / XDG_RUNTIME_DIR, the login
 * keyring created and unlocked with a password fed on stdin. Nothing inherits the user's
 * DBUS_SESSION_BUS_ADDRESS, HOME or XDG variables, so the user's own keyring is never touched.
 *
 * @napi-rs/keyring talks D-Bus from inside the process and libdbus reads DBUS_SESSION_BUS_ADDRESS
 * once per process, so code under test that uses the real keyring runs in a CHILD process whose
 * environment is `session.env` (see test/keyring/driver.ts); the vitest worker itself never loads
 * the native binding against a real bus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const KEYRING_BINARIES = ['dbus-daemon', 'gnome-keyring-daemon', 'dbus-send'] as const;
export const KEYRING_INSTALL_HINT = 'apt-get install -y gnome-keyring dbus-x11 (Debian/Ubuntu)';

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Can this machine run a private Secret Service? */
export function keyringAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `the Secret Service tests need Linux (this is ${process.platform})` };
  const missing = KEYRING_BINARIES.filter((b) => which(b) === null);
  if (missing.length > 0) return { ok: false, why: `${missing.join(', ')} not found in PATH (install: ${KEYRING_INSTALL_HINT})` };
  return { ok: true };
}

/**
 * For a suite that needs the real keyring: returns whether to skip, after saying LOUDLY why. With
 * CI=true a missing part is not a reason to skip: it throws, so the suite fails with the reason.
 */
export function keyringGate(extra: Array<{ ok: boolean; why: string }> = []): { skip: boolean; why: string | null } {
  const avail = keyringAvailable();
  const problems = [...(avail.ok ? [] : [avail.why]), ...extra.filter((e) => !e.ok).map((e) => e.why)];
  if (problems.length === 0) return { skip: false, why: null };
  const why = problems.join('; ');
  if (process.env.CI === 'true') {
    throw new Error(`keyring tests cannot run and CI=true forbids skipping them: ${why}`);
  }
  console.warn(`\n${'*'.repeat(100)}\n*** SKIPPING real Secret Service tests: ${why}\n${'*'.repeat(100)}\n`);
  return { skip: true, why };
}

export interface KeyringSession {
  /** The environment a child needs: DBUS_SESSION_BUS_ADDRESS, HOME, XDG_*. */
  env: Record<string, string>;
  /** The temp dir holding everything (HOME is `<dir>/home`). */
  dir: string;
  busAddress: string;
  /** Lock the login collection (org.freedesktop.Secret.Service.Lock). */
  lock(): Promise<void>;
  /** Whether the login collection is locked now. */
  isLocked(): Promise<boolean>;
  /** Object paths of the Secret Service items whose attributes include `attrs` (SearchItems). */
  searchItems(attrs: Record<string, string>): Promise<string[]>;
  /** Kill the daemons and remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface KeyringSessionOptions {
  /** Login keyring password (default: random). */
  password?: string;
  /** Start gnome-keyring-daemon at all (default true). false: a bus without any Secret Service. */
  secretService?: boolean;
  /** Milliseconds to wait for the daemons (default 10000). */
  startTimeoutMs?: number;
}

function baseEnv(dir: string): Record<string, string> {
  const home = join(dir, 'home');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    LANG: 'C.UTF-8',
  };
  return env;
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function dbusSend(env: Record<string, string>, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('dbus-send', ['--session', '--print-reply', ...args], { env, encoding: 'utf8', timeout: 5000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const LOGIN = '/org/freedesktop/secrets/collection/login';

/** Start a private D-Bus session bus and (by default) an unlocked gnome-keyring on it. */
export async function startKeyringSession(opts: KeyringSessionOptions = {}): Promise<KeyringSession> {
  const avail = keyringAvailable();
  if (!avail.ok) throw new Error(`cannot start a keyring session: ${avail.why}`);
  const dir = mkdtempSync(join(tmpdir(), 'codex-auth-keyring-'));
  const env = baseEnv(dir);
  for (const d of [env.HOME!, env.XDG_DATA_HOME!, env.XDG_CONFIG_HOME!, env.XDG_CACHE_HOME!, env.XDG_STATE_HOME!]) mkdirSync(d, { recursive: true, mode: 0o700 });
  mkdirSync(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  const socket = join(dir, 'bus');
  const conf = join(dir, 'bus.conf');
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`,
  );
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of [...children].reverse()) {
      try {
        c.kill('SIGTERM');
      } catch {
        /* gone */
      }
      await waitExit(c, 2000);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  try {
    const bus = spawn('dbus-daemon', [`--config-file=${conf}`, '--nofork', '--print-address=1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(bus);
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const t = setTimeout(() => reject(new Error(`dbus-daemon did not start within ${timeoutMs} ms: ${err}`)), timeoutMs);
      bus.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) {
          clearTimeout(t);
          resolve(line.trim());
        }
      });
      bus.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      bus.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`dbus-daemon exited (${String(code)}): ${err}`));
      });
    });
    env.DBUS_SESSION_BUS_ADDRESS = address;
    if (opts.secretService !== false) {
      const gk = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      children.push(gk);
      let gkErr = '';
      gk.stderr!.on('data', (d: Buffer) => (gkErr += d.toString()));
      gk.stdin!.on('error', () => {});
      gk.stdin!.end(opts.password ?? `pw-${process.pid}-${Date.now()}`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (gk.exitCode !== null) throw new Error(`gnome-keyring-daemon exited (${gk.exitCode}): ${gkErr}`);
        const r = dbusSend(env, ['--dest=org.freedesktop.secrets', LOGIN, 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.Secret.Collection', 'string:Locked']);
        if (r.ok && /boolean false/.test(r.out)) break;
        if (Date.now() > deadline) throw new Error(`gnome-keyring did not provide an unlocked login collection within ${timeoutMs} ms: ${r.out} ${gkErr}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
    const isLocked = async (): Promise<boolean> => {
      const r = dbusSend(env, ['--dest=org.freedesktop.secrets', LOGIN, 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.Secret.Collection', 'string:Locked']);
      if (!r.ok) throw new Error(`cannot read the Locked property: ${r.out}`);
      return /boolean true/.test(r.out);
    };
    return {
      env: { ...env },
      dir,
      busAddress: address,
      isLocked,
      searchItems: async (attrs) => {
        const pairs = Object.entries(attrs).flatMap(([k, v]) => [k, v]);
        if (pairs.some((p) => p.includes(','))) throw new Error('searchItems: attribute names and values must not contain commas');
        const r = dbusSend(env, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.SearchItems', `dict:string:string:${pairs.join(',')}`]);
        if (!r.ok) throw new Error(`SearchItems failed: ${r.out}`);
        return [...r.out.matchAll(/object path "([^"]+)"/g)].map((m) => m[1] ?? '').filter((p) => p.startsWith('/org/freedesktop/secrets/collection/'));
      },
      lock: async () => {
        const r = dbusSend(env, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', `array:objpath:${LOGIN}`]);
        if (!r.ok) throw new Error(`cannot lock the login collection: ${r.out}`);
        if (!(await isLocked())) throw new Error('the login collection is still unlocked after Lock');
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
