import type { QuotaStatus } from '@orc/shared';
import type { Redis } from 'ioredis';
import { QUOTA_DIMENSIONS } from '../quota/rate-limit-report.js';
import { SHARED_QUOTAS_KEY, readLedgerState } from './redis-quota-ledger.js';

/**
 * The quotas the workers on this Redis keep together, as `daemon.health` shows them beside the daemon's
 * own: each key's limits as the workers' answers reported them, what is left now, the calls in flight,
 * how many went and how many the API refused (429), and a hold the API asked for. A quota gone from
 * Redis (a day unused, a restart) is dropped from the list.
 */
export async function readSharedQuotas(connection: Redis): Promise<QuotaStatus[]> {
  const states = await connection.smembers(SHARED_QUOTAS_KEY);
  const quotas: QuotaStatus[] = [];
  for (const state of states) {
    const fields = await readLedgerState(connection, state);
    if (!fields) {
      await connection.srem(SHARED_QUOTAS_KEY, state);
      continue;
    }
    quotas.push(statusOf(fields));
  }
  return quotas.sort((a, b) => a.key.localeCompare(b.key));
}

function statusOf(fields: Record<string, string>): QuotaStatus {
  const number = (name: string) => Number(fields[name] ?? 0);
  const now = number('now');
  const limits: QuotaStatus['limits'] = [];
  for (const dimension of QUOTA_DIMENSIONS) {
    const limit = number(`${dimension}:limit`);
    if (limit <= 0) continue;
    const fillMs = number(`${dimension}:fill`);
    const level =
      number(`${dimension}:level`) + (limit / fillMs) * Math.max(0, now - number(`${dimension}:at`));
    limits.push({
      dimension,
      limit,
      fillMs: Math.round(fillMs),
      remaining: Math.floor(Math.min(limit, level)),
    });
  }
  const blocked = number('blocked');
  return {
    key: fields['ident']!,
    model: fields['model'] ?? '',
    limits,
    inFlight: number('inflight'),
    // Calls waiting are in each worker's governor; the daemon counts them by job (orc_model_calls_waiting).
    waiting: 0,
    admitted: number('admitted'),
    rateLimited: number('refused'),
    ...(blocked > now && { blockedUntil: new Date(blocked).toISOString() }),
    shared: true,
  };
}
