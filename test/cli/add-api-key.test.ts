/** add-api-key in-process, with an in-memory keyring double and the fake OpenAI. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { typeWhen } from '../support/inprocess.js';
import { fakeApiKey } from '../support/jwt.js';

const { sb, fake, secrets } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '800' }) });
let n = 0;

function newKey(user: { id?: string; email?: string } = {}): string {
  n += 1;
  const key = fakeApiKey(`add-${n}`);
  secrets.push(key);
  fake.addApiKey(key, { id: user.id ?? `user-add-${n}`, email: user.email ?? `add${n}@example.com` });
  return key;
}

/** Every file below the sandbox's homes, for "the key is in no file" checks. */
function filesContaining(needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (fs.readFileSync(p, 'utf8').includes(needle)) hits.push(p);
    }
  };
  walk(sb.home);
  return hits;
}

function registry(): any {
  return JSON.parse(fs.readFileSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'), 'utf8'));
}

describe('add-api-key', () => {
  it('reads the key from stdin, verifies it, stores it in the keyring only, and makes it the fallback key', async () => {
    const key = newKey({ id: 'user-pipe', email: 'pipe@example.com' });
    const r = await sb.run(['add-api-key', '-', '--alias', 'billing'], { input: `${key}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Stored billing — pipe@example.com (API key sk-proj-***${key.slice(-4)}) in the OS keyring.`);
    expect(r.stderr).toContain('It is now the fallback key');
    expect(sb.keyring.values().some((v) => v.includes(key))).toBe(true);
    expect(filesContaining(key)).toEqual([]);
    const reg = registry();
    expect(reg.accounts[0]).toMatchObject({ kind: 'apikey', alias: 'billing', email: 'pipe@example.com', secret: { store: 'keyring' } });
    expect(reg.accounts[0].id).toMatch(/^apikey::user-pipe::[0-9a-f]{64}$/);
    expect(reg.fallback.keyId).toBe(reg.accounts[0].id);
    const list = JSON.parse((await sb.run(['list', '--json'])).stdout);
    expect(list.accounts[0]).toMatchObject({ fallback: true, plan: 'API_KEY' });
    expect((await sb.run(['list'])).stdout).toMatch(/\[fallback\]\s+API_KEY/);
  });

  it('warns about shell history when the key is an argument; piped stdin without "-" works too', async () => {
    const key = newKey();
    const r = await sb.run(['add-api-key', key, '--no-fallback', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('stays in your shell history');
    expect(JSON.parse(r.stdout)).toMatchObject({ schemaVersion: 1, added: true, verified: true, storage: 'keyring', fallback: false, keyMask: `sk-proj-***${key.slice(-4)}` });
    const key2 = newKey();
    const r2 = await sb.run(['add-api-key'], { input: key2 });
    expect(r2.code).toBe(0);
    expect(r2.stderr).not.toContain('shell history');
    expect(registry().accounts).toHaveLength(2);
    expect(registry().fallback.keyId).toMatch(/^apikey::/);
  });

  it('reads the key from a hidden prompt on a terminal, echoing nothing', async () => {
    const key = newKey();
    const r = await sb.run(['add-api-key'], { tty: true, onStdin: typeWhen('OpenAI API key (input hidden):', `${key}\r`) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('OpenAI API key (input hidden):');
    expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('Ctrl-C at the hidden prompt is a cancel: exit 130, no "error:", nothing stored', async () => {
    const key = newKey();
    const r = await sb.run(['add-api-key'], { tty: true, onStdin: typeWhen('OpenAI API key (input hidden):', key.slice(0, 10), '\x03') });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('Cancelled; nothing was changed.');
    expect(r.stderr).not.toContain('error');
    expect(r.stdout + r.stderr).not.toContain(key.slice(0, 10));
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json')) ? registry().accounts : []).toHaveLength(0);
  });

  it('re-adding a present key is a no-op that refreshes its identity', async () => {
    const key = newKey({ id: 'user-re', email: 'old@example.com' });
    expect((await sb.run(['add-api-key', '-'], { input: key })).code).toBe(0);
    fake.addApiKey(key, { id: 'user-re', email: 'new@example.com' });
    const r = await sb.run(['add-api-key', '-', '--json'], { input: key });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ added: false, email: 'new@example.com' });
    expect(r.stderr).toContain('already stored');
    expect(registry().accounts).toHaveLength(1);
    expect(registry().accounts[0].email).toBe('new@example.com');
  });

  it.each([
    ['not a key', 'hello world', 'does not look like an OpenAI API key', 'invalid_key'],
    ['empty stdin', '', 'No API key was given', 'empty_key'],
  ])('rejects %s and stores nothing', async (_n, input, message, code) => {
    const r = await sb.run(['add-api-key', '-', '--json'], { input });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(JSON.parse(r.stdout).error.code).toBe(code);
    expect(sb.keyring.values()).toEqual([]);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
  });

  it.each([
    ['401', { status: 401 }, 'OpenAI rejected this API key (HTTP 401); nothing was stored.'],
    ['500', { status: 500 }, 'OpenAI answered HTTP 500 to GET /v1/me (try again later); nothing was stored.'],
    ['a timeout', { hang: true }, 'Could not verify the API key with OpenAI: no answer from'],
  ])('stores nothing when /v1/me answers %s', async (_n, fault, message) => {
    const key = newKey();
    fake.setMeFault(key, fault);
    const r = await sb.run(['add-api-key', '-'], { input: key });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(sb.keyring.values()).toEqual([]);
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
  });

  it('stores a key unverified with --skip-verify when OpenAI cannot be reached, but never a rejected one', async () => {
    const key = newKey();
    fake.setMeFault(key, { hang: true });
    const r = await sb.run(['add-api-key', '-', '--skip-verify'], { input: key });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Storing the key unverified');
    expect(registry().accounts[0].id).toMatch(/^apikey::unverified::/);
    // Added again once OpenAI answers: the verified identity replaces the unverified one.
    fake.setMeFault(key, null);
    expect((await sb.run(['add-api-key', '-'], { input: key })).code).toBe(0);
    expect(registry().accounts[0].id).toMatch(/^apikey::user-add-\d+::/);
    expect(registry().fallback.keyId).toBe(registry().accounts[0].id);
    const bad = newKey();
    fake.setMeFault(bad, { status: 401 });
    expect((await sb.run(['add-api-key', '-', '--skip-verify'], { input: bad })).code).toBe(1);
    expect(registry().accounts).toHaveLength(1);
  });

  it('fails with the reason and the fix when the keyring is unusable, unless --insecure-storage', async () => {
    const key = newKey();
    sb.keyring.mode = 'unavailable';
    const r = await sb.run(['add-api-key', '-'], { input: key });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Secret Service|keyring/i);
    expect(r.stderr).toContain('--insecure-storage');
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
    expect(filesContaining(key)).toEqual([]);
    const ok = await sb.run(['add-api-key', '-', '--insecure-storage'], { input: key });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain('stored in a plain file (mode 0600)');
    const files = filesContaining(key);
    expect(files).toHaveLength(1);
    expect(fs.statSync(files[0] as string).mode & 0o777).toBe(0o600);
    const status = await sb.run(['status']);
    expect(status.stdout).toContain('1 in files: --insecure-storage');
  });

  it('cuts off a keyring that hangs after the timeout, storing nothing', async () => {
    const key = newKey();
    sb.keyring.mode = 'hang';
    const r = await sb.run(['add-api-key', '-', '--json'], { input: key, env: { CODEX_AUTH_KEYRING_TIMEOUT_MS: '300' } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('keyring_timeout');
    expect(fs.existsSync(path.join(sb.codexHome, 'codex-auth', 'registry.json'))).toBe(false);
  });

  it('remove deletes the keyring entry and disables fallback when it was the fallback key', async () => {
    const key = newKey();
    expect((await sb.run(['add-api-key', '-'], { input: key })).code).toBe(0);
    const regFile = path.join(sb.codexHome, 'codex-auth', 'registry.json');
    const reg = JSON.parse(fs.readFileSync(regFile, 'utf8'));
    reg.fallback.enabled = true;
    fs.writeFileSync(regFile, JSON.stringify(reg));
    const r = await sb.run(['remove', '1', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('was the fallback API key: automatic fallback is now disabled');
    expect(sb.keyring.values()).toEqual([]);
    expect(registry().fallback).toMatchObject({ enabled: false, keyId: null });
  });

  it('never copies an API key into a backup file, and refuses to switch away from a key saved nowhere', async () => {
    const key = newKey({ email: 'live-key@example.com' });
    sb.writeAuth({ auth_mode: 'apikey', OPENAI_API_KEY: key });
    const other = newKey({ email: 'other@example.com' });
    expect((await sb.run(['add-api-key', '-'], { input: other })).code).toBe(0); // sync also stored the live key
    expect((await sb.run(['switch', 'other'])).code).toBe(0);
    expect(filesContaining(key)).toEqual([]);
    expect(JSON.parse(sb.readAuth() ?? '').OPENAI_API_KEY).toBe(other);

    // A live key that cannot be saved (OpenAI unreachable to identify it) is never overwritten.
    const orphan = newKey();
    fake.setMeFault(orphan, { status: 500 });
    sb.writeAuth({ auth_mode: 'apikey', OPENAI_API_KEY: orphan });
    const r = await sb.run(['switch', 'live-key']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Codex's current API key (sk-proj-***");
    expect(r.stderr).toContain('nothing was changed');
    expect(JSON.parse(sb.readAuth() ?? '').OPENAI_API_KEY).toBe(orphan);
  });
});
