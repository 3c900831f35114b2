/** GET /v1/me: the identity behind an API key (CODEX-FACTS.md §6). */
import { CliError } from '../errors.js';
import { type HttpClient, isHttpError, parseJson } from '../platform/http.js';

export interface MeIdentity {
  id: string;
  email: string | null;
  name: string | null;
  orgTitle: string | null;
}

export function openaiBaseUrl(env: NodeJS.ProcessEnv): string {
  return (env.CODEX_AUTH_OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
}

export async function fetchMe(http: HttpClient, env: NodeJS.ProcessEnv, key: string): Promise<MeIdentity> {
  const url = `${openaiBaseUrl(env)}/me`;
  let res;
  try {
    res = await http.request({ method: 'GET', url, headers: { authorization: `Bearer ${key}` } });
  } catch (e) {
    if (isHttpError(e)) throw new CliError('network', `Could not verify the API key with OpenAI: ${e.message}.`, 1, { short: e.short });
    throw e;
  }
  if (res.status === 401 || res.status === 403) {
    throw new CliError('api_key_rejected', `OpenAI rejected this API key (HTTP ${res.status}).`, 1, { short: String(res.status) });
  }
  if (res.status !== 200) {
    throw new CliError('openai_error', `OpenAI answered HTTP ${res.status} to GET /v1/me (try again later).`, 1, { short: String(res.status) });
  }
  const body = parseJson(res.text) as Record<string, unknown> | undefined;
  const id = body && typeof body.id === 'string' && body.id ? body.id : null;
  if (!id) throw new CliError('openai_error', 'OpenAI answered GET /v1/me without a user id.', 1, { short: 'bad body' });
  const orgs = (body?.orgs as { data?: unknown } | undefined)?.data;
  const first = Array.isArray(orgs) ? (orgs[0] as Record<string, unknown> | undefined) : undefined;
  return {
    id,
    email: typeof body?.email === 'string' && body.email ? body.email : null,
    name: typeof body?.name === 'string' && body.name ? body.name : null,
    orgTitle: typeof first?.title === 'string' ? first.title : null,
  };
}
