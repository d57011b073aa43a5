/**
 * A grant's lifetime (fwc open --for, the service's "expires"): a duration such as 90s, 30m, 2h, 1d or 1h30m,
 * more than 0 and at most 366 days.
 */
export const MAX_LIFETIME_SECONDS = 366 * 86400;

/** The duration in seconds, or null when it is not one. */
export function parseDuration(v: string): number | null {
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const parts = /^([0-9]{1,7}[smhd])+$/.test(v) ? [...v.matchAll(/([0-9]+)([smhd])/g)] : [];
  const seconds = parts.reduce((n, m) => n + Number(m[1]) * unit[m[2]!]!, 0);
  return seconds <= 0 || seconds > MAX_LIFETIME_SECONDS ? null : seconds;
}

/** How a lifetime is written, for messages. */
export const DURATION_HELP = "a duration such as 90s, 30m, 2h, 1d or 1h30m (more than 0, at most 366d)";
