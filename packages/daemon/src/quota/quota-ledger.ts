import type { QuotaDimension } from './rate-limit-report.js';

/** What a call is charged: input when it arrives, output (expected, then as used) when its answer ends. */
export interface LedgerNeed {
  input: number;
  output: number;
}

/** A place taken in the shared quota (`flight` names it), or how long until the call fits. */
export type LedgerAnswer =
  | { ok: true; flight: string }
  | {
      ok: false;
      ms: number;
      /** Only time passing makes room (otherwise a call in flight somewhere must end first). */
      known: boolean;
      reason: string;
    };

/** One bucket as an answer's headers read it, with the fill time this process measured for it. */
export interface LedgerReading {
  dimension: QuotaDimension;
  limit: number;
  remaining: number;
  fillMs: number;
}

/** How a call admitted through the ledger ended. */
export interface LedgerRelease {
  /** Output tokens it used (charged now; its reservation is given back). */
  outputTokens: number;
  /** An answer came (without rate-limit headers, before any: the server does not meter). */
  answered: boolean;
  /** It reached the API; a call that never went has its arrival charge given back too. */
  sent: boolean;
  /** The API refused it with a 429. */
  refused: boolean;
}

/**
 * A quota's buckets kept outside this process, so that every process calling the model with one API key
 * (the `orc worker`s of a Redis backend) paces against one level instead of each against its own: N
 * processes on one key stay within the key's limit, not N times it. The governor asks it before a
 * metered call goes, and tells it each answer's headers and each call's end; a process that dies holding
 * places has them expire. `quota` is the quota's identity (`QuotaIdentity.key`, the key's fingerprint in it).
 */
export interface QuotaLedger {
  reserve(quota: string, model: string, need: LedgerNeed): Promise<LedgerAnswer>;
  observe(quota: string, flight: string, readings: readonly LedgerReading[]): void;
  release(quota: string, flight: string, end: LedgerRelease): void;
  /** `listener` hears a quota's identity when another process made room in it (a call ended, a reading). */
  onRoom(listener: (quota: string) => void): void;
}
