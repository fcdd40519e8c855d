import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Every process an agent starts inherits this variable with the agent's own value. Claude Code's Bash
 * tool runs each command in a session of its own, so a command's background process (`server &`) leaves
 * the agent's process group and outlives a group kill; its environment still names the agent.
 */
export const AGENT_TAG_VARIABLE = 'ORC_AGENT_TAG';

/** Unguessable and unique across daemons, hence the system's randomness rather than the run's seeded one. */
export function newAgentTag(): string {
  return randomBytes(8).toString('hex');
}

/**
 * SIGKILLs every process of this user whose environment carries the tag, and says how many. Where there
 * is no /proc (macOS) it finds none: the process group kill is all there is.
 */
export function killTagged(tag: string): number {
  const marker = Buffer.from(`${AGENT_TAG_VARIABLE}=${tag}\0`);
  let killed = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`).includes(marker)) continue;
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // Gone meanwhile, or another user's.
    }
  }
  return killed;
}
