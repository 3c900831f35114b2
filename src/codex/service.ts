/**
 * Running `codex-auth watch` or `codex-auth gateway serve` as a per-user service: a systemd user unit
 * (Linux) or a LaunchAgent (macOS). We write and remove the files and print the commands; we never
 * drive the service manager.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.js';
import { atomicWriteFile } from '../store/atomic.js';

/** What the service runs: `watch` (the fallback policy) or `gateway` (`gateway serve`). */
export type ServiceKind = 'watch' | 'gateway';

export interface ServiceSpec {
  /** Default `watch`. */
  kind?: ServiceKind;
  platform: NodeJS.Platform;
  home: string;
  env: NodeJS.ProcessEnv;
  /** argv that runs codex-auth: [node, bin]. */
  launcher: string[];
  codexHome: string;
  /** True when CODEX_HOME is not the default (~/.codex): the service name gets a suffix. */
  customHome: boolean;
  /** watch's --interval (ignored for the gateway). */
  interval: number | null;
}

/** Where a command runs, as far as its service is concerned (the factory's fields, structurally). */
export interface ServiceSite {
  ctx: { platform: NodeJS.Platform; homedir: string };
  env: NodeJS.ProcessEnv;
  paths: { codexHome: string };
  opts: { codexHome?: string | undefined };
}

/** This user's `kind` service for the Codex home the command runs on, started by this Node and this codex-auth. */
export function serviceSpecFor(kind: ServiceKind, site: ServiceSite, interval: number | null = null): ServiceSpec {
  const bin = process.argv[1] ? path.resolve(process.argv[1]) : 'codex-auth';
  return {
    kind,
    platform: site.ctx.platform,
    home: site.ctx.homedir,
    env: site.env,
    launcher: [process.execPath, bin],
    codexHome: site.paths.codexHome,
    customHome: site.opts.codexHome !== undefined || Boolean(site.env.CODEX_HOME),
    interval,
  };
}

const KINDS: Record<ServiceKind, { what: string; description: string; restartSec: number }> = {
  watch: { what: 'codex-auth watch', description: 'codex-auth watch: automatic account fallback for the Codex CLI', restartSec: 30 },
  // Codex cannot reach OpenAI without it: back soon after a crash.
  gateway: { what: 'codex-auth gateway serve', description: 'codex-auth gateway: keeps Codex working through a usage limit (loopback only)', restartSec: 5 },
};

export interface ServiceFiles {
  name: string;
  file: string;
  /** Extra files the service manager creates that uninstall removes (systemd "wants" link). */
  extra: string[];
  content: string;
  /** File mode of `file`: 0600 when it holds the environment (a proxy URL may hold a password). */
  mode: number;
  /** systemd: the 0600 EnvironmentFile beside the unit, written and removed with it. */
  environment: { file: string; content: string } | null;
  start: string[];
  stop: string[];
}

/**
 * The environment `watch` (and the gateway) depends on, passed to the service so that it uses the same
 * registry (CODEX_AUTH_HOME), through the same proxy, as one run from this shell. CODEX_HOME goes on
 * the command line (--codex-home). Proxy URLs may hold a password: whatever holds these is 0600.
 */
const PASS_ENV = [
  'CODEX_AUTH_HOME',
  'CODEX_AUTH_STORE',
  'CODEX_AUTH_OPENAI_BASE_URL',
  'CODEX_AUTH_CHATGPT_BASE_URL',
  'CODEX_REFRESH_TOKEN_URL_OVERRIDE',
  'CODEX_AUTH_HTTP_TIMEOUT_MS',
  'CODEX_AUTH_KEYRING_TIMEOUT_MS',
  'CODEX_AUTH_NO_CODEX_LOCKS',
  'HTTPS_PROXY',
  'https_proxy',
  'HTTP_PROXY',
  'http_proxy',
  'NO_PROXY',
  'no_proxy',
  'CODEX_CA_CERTIFICATE',
  'SSL_CERT_FILE',
] as const;

function passedEnv(spec: ServiceSpec): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const k of PASS_ENV) {
    const v = spec.env[k];
    if (!v) continue;
    // Neither a systemd EnvironmentFile nor a plist can carry them faithfully.
    if (/\p{Cc}/u.test(v)) throw new CliError('invalid_environment', `${k} holds a control character (a line break?); the service cannot be given it. Fix ${k} and run this again.`);
    out.push([k, v]);
  }
  return out;
}

function suffix(spec: ServiceSpec): string {
  return spec.customHome ? `-${createHash('sha256').update(spec.codexHome).digest('hex').slice(0, 8)}` : '';
}

/**
 * Node flags of the gateway's service: V8 tuned for memory (`--optimize-for-size`) and kept to its
 * baseline compiler (`--max-opt=1`: no Maglev or TurboFan, whose code and compiler pages stay
 * resident). A gateway only moves bytes between sockets. `npm run bench` runs `gateway serve` as the
 * service does; Node 24.22.3, idle after 20 requests: 64.0 → 59.0 MB resident, the added latency to
 * the first byte p50 0.71 → 0.71 ms, p99 3.62 → 1.35 ms, one 256 MB stream 482 → 481 MB/s.
 */
export const GATEWAY_NODE_FLAGS = ['--optimize-for-size', '--max-opt=1'] as const;

function argv(spec: ServiceSpec): string[] {
  if (spec.kind === 'gateway') {
    const [node, ...rest] = spec.launcher;
    return [node as string, ...GATEWAY_NODE_FLAGS, ...rest, '--codex-home', spec.codexHome, 'gateway', 'serve'];
  }
  return [...spec.launcher, '--codex-home', spec.codexHome, 'watch', ...(spec.interval ? ['--interval', String(spec.interval)] : [])];
}

/** A word of a unit file's ExecStart=: quoted, `%` and `$` doubled (no specifier or variable expansion). */
function systemdQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** A value of an EnvironmentFile: double quotes, with `\`, `"`, `$` and `` ` `` escaped (systemd.exec(5)). */
function envFileQuote(s: string): string {
  return `"${s.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function serviceFiles(spec: ServiceSpec): ServiceFiles {
  const kind = spec.kind ?? 'watch';
  const k = KINDS[kind];
  if (spec.platform === 'linux') {
    const name = `codex-auth-${kind}${suffix(spec)}.service`;
    const dir = path.join(spec.env.XDG_CONFIG_HOME || path.join(spec.home, '.config'), 'systemd', 'user');
    // The environment goes to a 0600 EnvironmentFile beside the unit, not into the unit: a unit file is
    // meant to be world-readable (systemd warns about one that is not), Environment= lines would be
    // shown by "systemctl --user show"/"cat" and go through %-specifier expansion (a percent-encoded
    // proxy password would break the unit), while an EnvironmentFile is read only when the service starts.
    const envFile = path.join(dir, `codex-auth-${kind}${suffix(spec)}.env`);
    const envContent = [
      `# The environment of ${k.what}, written by "${kind === 'gateway' ? 'codex-auth gateway install-service' : 'codex-auth watch --install-service'}" (0600: a proxy URL may hold a password).`,
      ...passedEnv(spec).map(([k, v]) => `${k}=${envFileQuote(v)}`),
      '',
    ].join('\n');
    const content = [
      '[Unit]',
      `Description=${k.description}`,
      'After=network-online.target',
      '',
      '[Service]',
      'Type=simple',
      `ExecStart=${argv(spec).map(systemdQuote).join(' ')}`,
      `EnvironmentFile=-${envFile.replace(/%/g, '%%')}`,
      'Restart=on-failure',
      `RestartSec=${k.restartSec}`,
      '',
      '[Install]',
      'WantedBy=default.target',
      '',
    ].join('\n');
    return {
      name,
      file: path.join(dir, name),
      extra: [path.join(dir, 'default.target.wants', name)],
      content,
      mode: 0o644,
      environment: { file: envFile, content: envContent },
      start: ['systemctl --user daemon-reload', `systemctl --user enable --now ${name}`, `journalctl --user -u ${name} -f   # its log`],
      stop: [`systemctl --user stop ${name}`, 'systemctl --user daemon-reload'],
    };
  }
  if (spec.platform === 'darwin') {
    const label = `com.codex-auth.${kind}${suffix(spec)}`;
    const file = path.join(spec.home, 'Library', 'LaunchAgents', `${label}.plist`);
    const log = path.join(spec.home, 'Library', 'Logs', `${label}.log`);
    const content = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      '<plist version="1.0">',
      '<dict>',
      '  <key>Label</key>',
      `  <string>${xmlEscape(label)}</string>`,
      '  <key>ProgramArguments</key>',
      '  <array>',
      ...argv(spec).map((a) => `    <string>${xmlEscape(a)}</string>`),
      '  </array>',
      '  <key>RunAtLoad</key>',
      '  <true/>',
      '  <key>KeepAlive</key>',
      '  <dict>',
      '    <key>SuccessfulExit</key>',
      '    <false/>',
      '  </dict>',
      '  <key>StandardOutPath</key>',
      `  <string>${xmlEscape(log)}</string>`,
      '  <key>StandardErrorPath</key>',
      `  <string>${xmlEscape(log)}</string>`,
      '  <key>EnvironmentVariables</key>',
      '  <dict>',
      ...passedEnv(spec).flatMap(([k, v]) => [`    <key>${xmlEscape(k)}</key>`, `    <string>${xmlEscape(v)}</string>`]),
      '  </dict>',
      '</dict>',
      '</plist>',
      '',
    ].join('\n');
    return {
      name: label,
      file,
      extra: [],
      content,
      // It holds the environment (a proxy URL may hold a password); launchd reads it as this user.
      mode: 0o600,
      environment: null,
      start: [`launchctl bootstrap gui/$(id -u) "${file}"`, `tail -f "${log}"   # its log`],
      stop: [`launchctl bootout gui/$(id -u) "${file}"`],
    };
  }
  const how = kind === 'gateway' ? '"gateway install-service"' : '--install-service';
  throw new CliError('unsupported_platform', `${how} supports Linux (systemd) and macOS (launchd), not ${spec.platform}. Run "${k.what}" from your own scheduler instead.`);
}

export function installService(spec: ServiceSpec): ServiceFiles {
  const f = serviceFiles(spec);
  mkdirSync(path.dirname(f.file), { recursive: true, mode: 0o700 });
  if (f.environment) atomicWriteFile(f.environment.file, f.environment.content, 0o600);
  atomicWriteFile(f.file, f.content, f.mode);
  return f;
}

/** Removes the service files; returns them (with `removed` false when there was nothing). */
export function uninstallService(spec: ServiceSpec): ServiceFiles & { removed: boolean } {
  const f = serviceFiles(spec);
  let removed = false;
  for (const p of [f.file, ...f.extra, ...(f.environment ? [f.environment.file] : [])]) {
    try {
      unlinkSync(p);
      removed = true;
    } catch {
      /* not there */
    }
  }
  return { ...f, removed };
}
