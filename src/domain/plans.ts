/** Canonical plan names as shown in `list` (CODEX-FACTS.md §2). */
const PLAN_ALIASES: Record<string, string> = {
  free: 'free',
  go: 'go',
  plus: 'plus',
  pro: 'pro',
  prolite: 'prolite',
  team: 'team',
  business: 'business',
  self_serve_business_usage_based: 'business',
  enterprise: 'enterprise',
  enterprise_cbp_usage_based: 'enterprise',
  hc: 'enterprise',
  edu: 'edu',
  education: 'edu',
};

export const API_KEY_PLAN = 'API_KEY';

export function normalizePlan(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') return 'unknown';
  return PLAN_ALIASES[raw.trim().toLowerCase()] ?? 'unknown';
}
