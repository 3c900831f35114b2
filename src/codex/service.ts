/**
 * Running `codex-auth watch` as a per-user service: a systemd user unit (Linux) or a LaunchAgent
 * (macOS). We write and remove the files and print the commands; we never drive the service manager.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.js';
import { atomicWriteFile } from '../store/atomic.js';

export interface ServiceSpec {
  platform: NodeJS.Platform;
  home: string;
  env: NodeJS.ProcessEnv;
  /** argv that runs codex-auth: [node, bin]. */
  launcher: string[];
  codexHome: string;
  /** True when CODEX_HOME is not the default (~/.codex): the service name gets a suffix. */
  customHome: boolean;
  interval: number | null;
}

export interface ServiceFiles {
  name: string;
  file: string;
  /** Extra files the service manager creates that uninstall removes (systemd "wants" link). */
  extra: string[];
  content: string;
  start: string[];
  stop: string[];
}

function suffix(spec: ServiceSpec): string {
  return spec.customHome ? `-${createHash('sha256').update(spec.codexHome).digest('hex').slice(0, 8)}` : '';
}

function argv(spec: ServiceSpec): string[] {
  return [...spec.launcher, '--codex-home', spec.codexHome, 'watch', ...(spec.interval ? ['--interval', String(spec.interval)] : [])];
}

function systemdQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function serviceFiles(spec: ServiceSpec): ServiceFiles {
  if (spec.platform === 'linux') {
    const name = `codex-auth-watch${suffix(spec)}.service`;
    const dir = path.join(spec.env.XDG_CONFIG_HOME || path.join(spec.home, '.config'), 'systemd', 'user');
    const passEnv = ['CODEX_AUTH_HOME', 'CODEX_AUTH_STORE', 'HTTPS_PROXY', 'NO_PROXY', 'CODEX_CA_CERTIFICATE', 'SSL_CERT_FILE'].filter((k) => spec.env[k]);
    const content = [
      '[Unit]',
      'Description=codex-auth watch: automatic account fallback for the Codex CLI',
      'After=network-online.target',
      '',
      '[Service]',
      'Type=simple',
      `ExecStart=${argv(spec).map(systemdQuote).join(' ')}`,
      ...passEnv.map((k) => `Environment=${systemdQuote(`${k}=${spec.env[k]}`)}`),
      'Restart=on-failure',
      'RestartSec=30',
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
      start: ['systemctl --user daemon-reload', `systemctl --user enable --now ${name}`, `journalctl --user -u ${name} -f   # its log`],
      stop: [`systemctl --user stop ${name}`, 'systemctl --user daemon-reload'],
    };
  }
  if (spec.platform === 'darwin') {
    const label = `com.codex-auth.watch${suffix(spec)}`;
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
      '</dict>',
      '</plist>',
      '',
    ].join('\n');
    return {
      name: label,
      file,
      extra: [],
      content,
      start: [`launchctl bootstrap gui/$(id -u) "${file}"`, `tail -f "${log}"   # its log`],
      stop: [`launchctl bootout gui/$(id -u) "${file}"`],
    };
  }
  throw new CliError('unsupported_platform', `--install-service supports Linux (systemd) and macOS (launchd), not ${spec.platform}. Run "codex-auth watch" from your own scheduler instead.`);
}

export function installService(spec: ServiceSpec): ServiceFiles {
  const f = serviceFiles(spec);
  fs.mkdirSync(path.dirname(f.file), { recursive: true, mode: 0o700 });
  atomicWriteFile(f.file, f.content, 0o644);
  return f;
}

/** Removes the service files; returns them (with `removed` false when there was nothing). */
export function uninstallService(spec: ServiceSpec): ServiceFiles & { removed: boolean } {
  const f = serviceFiles(spec);
  let removed = false;
  for (const p of [f.file, ...f.extra]) {
    try {
      fs.unlinkSync(p);
      removed = true;
    } catch {
      /* not there */
    }
  }
  return { ...f, removed };
}
