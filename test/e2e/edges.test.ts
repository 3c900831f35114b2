/**
 * Edge cases (issue 13) against the REAL Codex CLI: what Codex does with the credentials codex-auth
 * manages, so that codex-auth claims nothing Codex does not do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { assertBuilt, runBin } from '../support/bin.js';
import { CODEX_BIN, codexAvailable, codexSandbox, runCodex } from '../support/codex.js';
import { explain, secretScan } from '../support/e2e.js';
import { chatgptAuth } from '../support/jwt.js';

const HAVE_CODEX = codexAvailable();
const { transcript, secrets } = secretScan();

describe.skipIf(!HAVE_CODEX)('ephemeral credential store, with the real Codex', () => {
  it('Codex ignores auth.json in ephemeral mode, and switch says so instead of claiming success', async () => {
    assertBuilt();
    const sb = codexSandbox(onTestFinished);
    const a = chatgptAuth({ email: 'eph-a@example.com', userId: 'user-eph-a', accountId: 'acc-eph-a' });
    const b = chatgptAuth({ email: 'eph-b@example.com', userId: 'user-eph-b', accountId: 'acc-eph-b' });
    for (const d of [a, b]) secrets.push(d.tokens.refresh_token, d.tokens.access_token);
    fs.writeFileSync(path.join(sb.codexHome, 'auth.json'), JSON.stringify(a), { mode: 0o600 });
    const bFile = path.join(sb.home, 'b.json');
    fs.writeFileSync(bFile, JSON.stringify(b));
    const auth = async (args: string[]) => {
      const r = await runBin(args, { home: sb.home, codexHome: sb.codexHome, env: { CODEX_AUTH_CODEX_BIN: CODEX_BIN } });
      transcript.push(r.stdout, r.stderr);
      return r;
    };
    expect((await auth(['import', bFile])).code).toBe(0);

    // File mode: Codex uses auth.json.
    let status = await runCodex(['login', 'status'], sb);
    expect(status.code, explain(status)).toBe(0);
    expect(status.stderr).toContain('Logged in using ChatGPT');

    // Ephemeral mode: the same auth.json is not read at all.
    fs.writeFileSync(path.join(sb.codexHome, 'config.toml'), 'cli_auth_credentials_store = "ephemeral"\n');
    status = await runCodex(['login', 'status'], sb);
    expect(status.code, explain(status)).toBe(1);
    expect(status.stderr).toContain('Not logged in');

    // So a switch cannot change what Codex uses: refused, nothing written.
    const before = fs.readFileSync(path.join(sb.codexHome, 'auth.json'), 'utf8');
    const r = await auth(['switch', 'eph-b@example.com']);
    expect(r.code, explain(r)).toBe(1);
    expect(r.stderr).toContain('Codex keeps its login in memory only');
    expect(r.stderr).not.toContain('✓');
    expect(fs.readFileSync(path.join(sb.codexHome, 'auth.json'), 'utf8')).toBe(before);
    status = await runCodex(['login', 'status'], sb);
    expect(status.stderr).toContain('Not logged in');
  });
});
