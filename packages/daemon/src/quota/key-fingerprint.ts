import { scryptSync } from 'node:crypto';

/**
 * The salt of every fingerprint: fixed, so one key gives one fingerprint on every machine (that is how
 * workers on one key find each other) and the fingerprints of this tool match no other tool's.
 */
const SALT = 'claude-orchestrator/quota-key/v1';
/**
 * scrypt's cost: 47 ms and 16 MB for one fingerprint (measured), paid once per key per process, and by
 * anyone who would guess keys from a fingerprint on each guess.
 */
const COST = { N: 16_384, r: 8, p: 1 };
const made = new Map<string, string>();

/**
 * What names an API key where it must be named outside this process (a quota's identity, Redis keys and
 * channels, `daemon.health`): 16 hex digits of a salted scrypt hash of it. It cannot be turned back into
 * the key (64 bits of a one-way hash of a key of 100+ random characters), and each guess at a key costs
 * a scrypt. `no-key` without one.
 */
export function keyFingerprint(apiKey: string | undefined): string {
  if (!apiKey) return 'no-key';
  let fingerprint = made.get(apiKey);
  if (fingerprint === undefined) {
    fingerprint = scryptSync(apiKey, SALT, 8, COST).toString('hex');
    made.set(apiKey, fingerprint);
  }
  return fingerprint;
}
