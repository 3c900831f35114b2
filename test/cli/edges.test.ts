/** Edge cases (issue 13): in-process command tests over real temporary directories, with fake Codex binaries. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findSecrets, makeSandbox, type Sandbox } from '../support/inprocess.js';
import { apiKeyAuth, type ChatgptAuthDoc, chatgptAuth, fakeApiKey } from '../support/jwt.js';

let sb: Sandbox;
const secrets: string[] = [];

function remember(doc: ChatgptAuthDoc): ChatgptAuthDoc {
  secrets.push(doc.tokens.refresh_token, doc.tokens.access_token, doc.tokens.id_token);
  return doc;
}

/** An executable shell script in the sandbox. */
function script(name: string, body: string): string {
  const dir = path.join(sb.root, 'bin');
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return p;
}

beforeEach(() => {
  sb = makeSandbox();
});
afterEach(() => {
  expect(findSecrets(sb.transcript, secrets)).toEqual([]);
  sb.cleanup();
});

describe('run: the Codex home codex-auth watches is the one codex uses', () => {
  function fakeCodex(): { bin: string; seen: () => string } {
    const out = path.join(sb.root, 'codex-home-seen');
    const bin = script('codex', `printf '%s' "\${CODEX_HOME-<unset>}" > '${out}'`);
    return { bin, seen: () => fs.readFileSync(out, 'utf8') };
  }

  it('--codex-home DIR starts codex with CODEX_HOME=DIR (absolute), over a CODEX_HOME in the environment', async () => {
    const { bin, seen } = fakeCodex();
    const other = path.join(sb.root, 'other-home');
    fs.mkdirSync(other, { mode: 0o700 });
    const r = await sb.run(['--codex-home', path.relative(sb.home, other), 'run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(other);
  });

  it('--codex-home DIR without CODEX_HOME in the environment', async () => {
    const { bin, seen } = fakeCodex();
    const other = path.join(sb.root, 'other-home');
    fs.mkdirSync(other, { mode: 0o700 });
    const r = await sb.run(['--codex-home', other, 'run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin, CODEX_HOME: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(other);
  });

  it('CODEX_HOME given relative reaches codex as the absolute directory codex-auth uses', async () => {
    const { bin, seen } = fakeCodex();
    const r = await sb.run(['run', '--', 'exec', 'hi'], { env: { CODEX_AUTH_CODEX_BIN: bin, CODEX_HOME: '.codex' } });
    expect(r.code, r.stderr).toBe(0);
    expect(seen()).toBe(sb.codexHome);
  });
});
