import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type {
  LedgerAnswer,
  LedgerNeed,
  LedgerReading,
  LedgerRelease,
  QuotaLedger,
} from '../quota/quota-ledger.js';
import { KEY_PREFIX } from './attempt-wire.js';
import { OBSERVE, RELEASE, RENEW, RESERVE, STATUS } from './quota-ledger-scripts.js';
import { quiet } from './redis-connection.js';

/** Set of the state keys of every shared quota on this Redis (what the daemon shows). */
export const SHARED_QUOTAS_KEY = `${KEY_PREFIX}:quotas`;
/** Pub/sub: the state key of a shared quota where a call ended or a reading came (room may be made). */
export const QUOTA_ROOM_CHANNEL = `${KEY_PREFIX}:quota-room`;
/** A quota nobody used for a day is dropped from Redis. */
const IDLE_MS = 24 * 3600_000;

/** The three keys of a quota, named by a hash of its identity (the key's fingerprint is in it, never the key). */
export function ledgerKeys(quota: string): [state: string, flights: string, leases: string] {
  const id = createHash('sha256').update(quota).digest('hex').slice(0, 16);
  // One hash tag: the three keys a script touches are in one slot.
  const base = `${KEY_PREFIX}:quota:{${id}}`;
  return [`${base}:state`, `${base}:flights`, `${base}:leases`];
}

const WORDS: Record<string, string> = {
  requests: 'requests',
  'input-tokens': 'input tokens',
  'output-tokens': 'output tokens',
  tokens: 'tokens',
};

/**
 * The `QuotaLedger` of `orc worker`s: each quota's buckets in Redis, taken from and refilled by Lua
 * scripts (quota-ledger-scripts.ts) so every worker on one API key paces against one level. Chosen over
 * BullMQ's rate limiter, which limits a whole queue by a fixed count of jobs per window: our limits are
 * per key (one queue has workers with different keys), in tokens as well as requests, learned from the
 * API's headers, and give back the output a call reserved and did not use.
 *
 * A place lasts `leaseMs` and is renewed at half of it while its call runs, as BullMQ renews a job's
 * lock: a worker killed mid-call holds its places no longer than that.
 */
export class RedisQuotaLedger implements QuotaLedger {
  private readonly held = new Map<string, Set<string>>();
  private readonly listeners: ((quota: string) => void)[] = [];
  /** State key → identity, for the quotas this process has asked about. */
  private readonly known = new Map<string, string>();
  private readonly subscriber: Redis;
  private readonly renewal: NodeJS.Timeout;

  private constructor(
    private readonly connection: Redis,
    private readonly leaseMs: number,
  ) {
    this.subscriber = quiet(connection.duplicate());
    this.subscriber.on('message', (_channel: string, state: string) => {
      const quota = this.known.get(state);
      if (quota !== undefined) for (const listener of this.listeners) listener(quota);
    });
    this.renewal = setInterval(() => this.renew(), Math.max(100, leaseMs / 2));
    this.renewal.unref();
  }

  static async open(connection: Redis, leaseMs: number): Promise<RedisQuotaLedger> {
    const ledger = new RedisQuotaLedger(connection, leaseMs);
    await ledger.subscriber.subscribe(QUOTA_ROOM_CHANNEL);
    return ledger;
  }

  async reserve(quota: string, model: string, need: LedgerNeed): Promise<LedgerAnswer> {
    const keys = ledgerKeys(quota);
    this.known.set(keys[0], quota);
    const [ok, a, known, reason] = (await run(this.connection, RESERVE, keys, [
      Math.ceil(need.input),
      Math.ceil(need.output),
      this.leaseMs,
      quota,
      model,
      IDLE_MS,
    ])) as [number, number, number?, string?];
    if (ok === 1) {
      const flight = String(a);
      this.holding(quota).add(flight);
      void this.connection.sadd(SHARED_QUOTAS_KEY, keys[0]).catch(() => undefined);
      return { ok: true, flight };
    }
    if (reason?.startsWith('held:')) return { ok: false, ms: a, known: true, reason: reason.slice(5) };
    const why =
      reason === 'first'
        ? 'the first answer, which tells the limits'
        : `${WORDS[reason!] ?? reason} of ${model}`;
    return { ok: false, ms: a, known: known === 1, reason: `${why} (shared with the workers on this key)` };
  }

  observe(quota: string, flight: string, readings: readonly LedgerReading[]): void {
    const args: (string | number)[] = [flight];
    for (const { dimension, limit, remaining, fillMs } of readings)
      args.push(dimension, limit, remaining, Math.max(1, Math.round(fillMs)));
    this.tell(quota, OBSERVE, args);
  }

  release(quota: string, flight: string, end: LedgerRelease): void {
    this.held.get(quota)?.delete(flight);
    const flag = (value: boolean) => (value ? 1 : 0);
    this.tell(quota, RELEASE, [
      flight,
      Math.max(0, Math.round(end.outputTokens)),
      flag(end.answered),
      flag(end.sent),
      flag(end.refused),
    ]);
  }

  onRoom(listener: (quota: string) => void): void {
    this.listeners.push(listener);
  }

  /** Stops renewing (the places this process holds expire) and hearing of room. */
  close(): void {
    clearInterval(this.renewal);
    this.subscriber.disconnect();
  }

  /** Runs a script that may make room, then says so to every process on the quota. */
  private tell(quota: string, script: string, args: (string | number)[]): void {
    const keys = ledgerKeys(quota);
    // Nothing may reject unhandled: a connection closed mid-script (Redis gone, or this process stopping)
    // would otherwise end the whole worker or daemon. The places expire by their lease.
    run(this.connection, script, keys, args)
      .then(() => this.connection.publish(QUOTA_ROOM_CHANNEL, keys[0]))
      .catch(() => undefined);
  }

  private renew(): void {
    if (this.connection.status !== 'ready') return;
    for (const [quota, flights] of this.held) {
      if (flights.size === 0) continue;
      run(this.connection, RENEW, ledgerKeys(quota), [this.leaseMs, ...flights]).catch(() => undefined);
    }
  }

  private holding(quota: string): Set<string> {
    let flights = this.held.get(quota);
    if (!flights) {
      flights = new Set();
      this.held.set(quota, flights);
    }
    return flights;
  }
}

/**
 * Keeps a hold the API asked for (a 429's `retry-after`, a usage limit) in the quota's state, so a
 * worker that starts later waits for it too (the workers running now hear of it on the holds channel).
 */
export async function storeHold(
  connection: Redis,
  quota: string,
  until: number,
  reason: string,
): Promise<void> {
  const [state] = ledgerKeys(quota);
  await connection.multi().hset(state, 'blocked', until, 'blockedFor', reason).pexpire(state, IDLE_MS).exec();
}

/** The state of a shared quota as a person is shown it: its state hash with its calls in flight and Redis' time. */
export async function readLedgerState(
  connection: Redis,
  state: string,
): Promise<Record<string, string> | undefined> {
  const base = state.replace(/:state$/, '');
  const flat = (await run(connection, STATUS, [state, `${base}:flights`, `${base}:leases`], [])) as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields['ident'] === undefined ? undefined : fields;
}

const shas = new Map<string, string>();

/** EVALSHA, loading the script when this Redis does not have it yet (a first call, a restart). */
async function run(
  connection: Redis,
  script: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  try {
    return await connection.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return connection.eval(script, keys.length, ...keys, ...args);
  }
}
