/**
 * Output safety (README "Security model"): text from tokens, files, the environment or the network
 * reaches the terminal with its control and bidi characters shown escaped, and URL passwords masked;
 * --json stays exact JSON. In-process, over real temporary directories.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliSuite, fakeEnv } from '../support/cli-suite.js';
import { typeWhen } from '../support/inprocess.js';
import { AUTH_CLAIM, authClaim, chatgptAuth, makeIdToken } from '../support/jwt.js';

/** An OSC that retitles the terminal, a CSI that clears the screen, a C1 CSI, a right-to-left override. */
const EVIL_EMAIL = 'eve\x1b]0;pwned\x07@\x1b[2Jevil.example\u202e';
const EVIL_TITLE = 'Team\x1b]0;pwned\x07 \x1b[2J\u009b2J\u202ekcah';
const EVE = { email: EVIL_EMAIL, userId: 'user-eve', accountId: 'acc-eve', plan: 'team' };
const ALICE = { email: 'alice@example.com', userId: 'user-alice', accountId: 'acc-alice', plan: 'plus' };

function eveAuth() {
  const idToken = makeIdToken(EVE, { extra: { [AUTH_CLAIM]: { ...authClaim(EVE), organizations: [{ id: EVE.accountId, title: EVIL_TITLE, is_default: true }] } } });
  return chatgptAuth({ ...EVE, idToken });
}

/**
 * Nothing but our own colours: every ESC starts an SGR sequence (`ESC [ digits ; m`), and no BEL, C1
 * control or bidi override is written raw.
 */
function expectSafe(text: string): void {
  for (let i = text.indexOf('\x1b'); i >= 0; i = text.indexOf('\x1b', i + 1)) {
    expect(text.slice(i, i + 12)).toMatch(/^\x1b\[[0-9;]*m/);
  }
  expect(text).not.toContain('\x07');
  expect(text).not.toContain('\u009b');
  expect(text).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
}

const { sb, fake } = cliSuite({ env: (f) => ({ ...fakeEnv.openai(f), CODEX_AUTH_HTTP_TIMEOUT_MS: '1500' }) });
const COLOUR = { FORCE_COLOR: '1' };

describe('control characters from an id_token', () => {
  async function importEve(): Promise<string> {
    sb.writeAuth(chatgptAuth(ALICE));
    const file = path.join(sb.root, 'eve.json');
    fs.writeFileSync(file, JSON.stringify(eveAuth()));
    return file;
  }

  it('import, list, switch, status and fallback status show them escaped, with colours on and off', async () => {
    const file = await importEve();
    const imp = await sb.run(['import', file], { env: COLOUR });
    expect(imp.code, imp.stderr).toBe(0);
    expectSafe(imp.stdout + imp.stderr);
    expect(imp.stdout).toContain('\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e');
    expect(imp.stdout).toMatch(/\x1b\[32mimported/); // our colours still work

    for (const env of [COLOUR, {}]) {
      const list = await sb.run(['list'], { env });
      expect(list.code, list.stderr).toBe(0);
      expectSafe(list.stdout + list.stderr);
      expect(list.stdout).toContain('eve\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e');
      // One line per account: the escapes do not break the table.
      expect(list.stdout.split('\n').filter((l) => l.includes('evil.example'))).toHaveLength(1);
    }

    const sw = await sb.run(['switch', 'eve'], { env: COLOUR });
    expect(sw.code, sw.stderr).toBe(0);
    expectSafe(sw.stdout + sw.stderr);
    expect(sw.stderr).toContain('Team\\x1b]0;pwned\\x07 \\x1b[2J\\x9b2J\\u202ekcah');

    const st = await sb.run(['status'], { env: COLOUR });
    expectSafe(st.stdout + st.stderr);
    expect(st.stdout).toContain('eve\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e');

    expect((await sb.run(['fallback', 'enable'])).code).toBe(0); // rotation only: it names the active account
    const fb = await sb.run(['fallback', 'status'], { env: COLOUR });
    expect(fb.code, fb.stderr).toBe(0);
    expectSafe(fb.stdout + fb.stderr);
    expect(fb.stdout).toContain('\\x1b]0;pwned');

    // A query that matches nothing lists the accounts in the error.
    const miss = await sb.run(['switch', 'nobody\x1b[2J'], { env: COLOUR });
    expect(miss.code).toBe(1);
    expectSafe(miss.stderr);
    expect(miss.stderr).toContain('evil.example');
  });

  it('--json keeps the exact strings (and writes no raw control character)', async () => {
    const file = await importEve();
    const imp = await sb.run(['import', file, '--json']);
    expect(JSON.parse(imp.stdout).results[0].email).toBe(EVIL_EMAIL);
    const list = await sb.run(['list', '--json'], { env: COLOUR });
    expectSafe(list.stdout);
    const eve = JSON.parse(list.stdout).accounts.find((a: { email: string }) => a.email === EVIL_EMAIL);
    expect(eve).toMatchObject({ email: EVIL_EMAIL, workspace: { title: EVIL_TITLE } });
    const sw = await sb.run(['switch', 'eve', '--json'], { env: COLOUR });
    expect(sw.code, sw.stderr).toBe(0);
    expectSafe(sw.stdout);
    const st = await sb.run(['status', '--json'], { env: COLOUR });
    expectSafe(st.stdout);
    expect(JSON.parse(st.stdout).active.email).toBe(EVIL_EMAIL);
    expect((await sb.run(['fallback', 'enable'])).code).toBe(0);
    const fb = await sb.run(['fallback', 'status', '--json']);
    expectSafe(fb.stdout);
    expect(JSON.parse(fb.stdout).next.reason).toContain('evil.example');
  });

  it('the picker of switch shows them escaped', async () => {
    await importEve();
    expect((await sb.run(['import', path.join(sb.root, 'eve.json')])).code).toBe(0);
    const r = await sb.run(['switch'], { tty: true, env: COLOUR, onStdin: typeWhen('switch to:', '\x03') });
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('eve\\x1b]0;pwned\\x07@\\x1b[2Jevil.example\\u202e');
    expect(r.stderr).not.toContain('\x07');
    expect(r.stderr).not.toContain('\x1b]');
    expect(r.stderr).not.toContain('\u202e');
  });

  it('a colour code in a token is escaped like any other: only our palette writes ESC', async () => {
    sb.writeAuth(chatgptAuth({ ...ALICE, email: 'mallory\x1b[8m@example.com' }));
    const r = await sb.run(['list'], { env: COLOUR });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('mallory\\x1b[8m@example.com');
    expect(r.stdout).not.toContain('\x1b[8m');
  });
});

describe('passwords in URLs', () => {
  const PROXY = 'http://proxyuser:s3cr3t-pa55@proxy.internal:3128';
  const MASKED = 'http://proxyuser:***@proxy.internal:3128';

  it('status (text, --json, --debug) never prints a proxy password', async () => {
    sb.writeAuth(chatgptAuth(ALICE));
    const env = { HTTPS_PROXY: PROXY, NO_PROXY: '127.0.0.1,localhost' };
    const text = await sb.run(['status'], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`HTTPS_PROXY=${MASKED}`);
    const json = await sb.run(['status', '--json'], { env });
    expect(JSON.parse(json.stdout).env.HTTPS_PROXY).toBe(MASKED);
    const debug = await sb.run(['status', '--debug'], { env });
    const doctor = await sb.run(['doctor'], { env });
    for (const r of [text, json, debug, doctor]) expect(r.stdout + r.stderr).not.toContain('s3cr3t');
  });
});
