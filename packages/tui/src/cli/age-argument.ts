import { UsageError } from './cli-error.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** An age given on the command line (`7d`, `12h`, `30m`, `2w`, `90s`) in milliseconds. */
export function parseAge(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  const amount = Number(match?.[1]);
  if (!match || !(amount > 0)) {
    throw new UsageError(
      `${flag} must be a number and a unit (s, m, h, d or w), like 30m, 12h, 7d or 2w (got "${text}")`,
    );
  }
  return amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
