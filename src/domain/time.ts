/**
 * Date.prototype.toISOString, from the UTC fields. The same string for every date codex-auth
 * stores (years 0–9999), without what the first toISOString of a process costs: V8 sets up its
 * time-zone cache for it (reading /etc/localtime), a quarter of a millisecond that a `switch`, which
 * shows no local time, otherwise pays only for this.
 */
const p2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

export function isoString(d: Date): string {
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) return d.toISOString(); // invalid dates throw there, as they should
  const ms = d.getUTCMilliseconds();
  return `${y < 1000 ? `${y}`.padStart(4, '0') : y}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : ms}Z`;
}
