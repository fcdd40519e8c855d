import * as z from 'zod';

/**
 * One quota the daemon paces (an account's limits for one model), as `daemon.health` shows it: the
 * limits its answers reported, the calls in flight and waiting, how many went and how many the API
 * still refused (429), and until when it holds every call (a `retry-after`, a usage limit). A `shared`
 * quota is the one the `orc worker`s on one API key keep together in Redis (their calls, not the
 * daemon's); its `key` names the API key by a fingerprint, never the key.
 */
export const QuotaStatus = z.object({
  key: z.string(),
  model: z.string(),
  limits: z.array(
    z.object({
      dimension: z.enum(['requests', 'input-tokens', 'output-tokens', 'tokens']),
      limit: z.number(),
      /** How long an empty bucket takes to fill again (ms); 60,000 for the API's per-minute limits. */
      fillMs: z.number(),
      /** What is left now, less what calls in flight hold (shared quotas). */
      remaining: z.number().optional(),
    }),
  ),
  inFlight: z.number().int().nonnegative(),
  waiting: z.number().int().nonnegative(),
  admitted: z.number().int().nonnegative(),
  rateLimited: z.number().int().nonnegative(),
  blockedUntil: z.string().optional(),
  shared: z.boolean().optional(),
});
export type QuotaStatus = z.infer<typeof QuotaStatus>;

/** `HH:MM` in the reader's time zone. */
export function localTime(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
}

/**
 * How a run waiting for its quota is shown (`orc ls`, `orc show`, the terminal UI): `waiting for quota
 * until 14:05`, with the day when the wait ends on another day than `now`.
 */
export function quotaWaitText(resumeAt: string, now: number = Date.now()): string {
  return `waiting for quota until ${localTimeOfDay(resumeAt, now)}`;
}

/** `HH:MM` in the reader's time zone, and ` on YYYY-MM-DD` when that is another day than `now`'s. */
export function localTimeOfDay(iso: string, now: number = Date.now()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const today = new Date(now);
  const sameDay =
    at.getFullYear() === today.getFullYear() &&
    at.getMonth() === today.getMonth() &&
    at.getDate() === today.getDate();
  const day = sameDay ? '' : ` on ${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}`;
  return `${localTime(iso)}${day}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
