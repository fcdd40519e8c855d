import { closeSync, openSync, statSync, utimesSync } from 'node:fs';

/** How often the daemon marks itself alive. */
export const ALIVE_MS = 1000;

/**
 * Until when a mark says the daemon is alive: the next mark is due in `ALIVE_MS`, and a busy event loop
 * may make it late by as much again.
 */
const AHEAD_MS = 2 * ALIVE_MS;

/**
 * The daemon's mark of life: a file whose modification time says until when it was alive, moved on every
 * second (a change of the file's times, not a write of its content). A daemon killed with -9 leaves it
 * behind, and the next one counts the runs' downtime from it: counted from their last journalled event,
 * the seconds a run had worked since (a silent agent, a review under way) came off its working time
 * after the restart, and the time `orc ls` showed stepped back. Its cost: up to `AHEAD_MS` of downtime
 * counted as work, the side a person can take (time that never goes backwards).
 */
export function keepAliveMark(file: string, now: () => number = Date.now): { stop(): void } {
  const mark = (at: number) => {
    const until = new Date(at);
    try {
      utimesSync(file, until, until);
    } catch {
      try {
        closeSync(openSync(file, 'a', 0o600));
        utimesSync(file, until, until);
      } catch {
        // A state directory that takes no writes: the runs' stores say so; downtime then counts from their events.
      }
    }
  };
  mark(now() + AHEAD_MS);
  const timer = setInterval(() => mark(now() + AHEAD_MS), ALIVE_MS);
  timer.unref();
  // Stopped cleanly, the daemon was alive until now, not ahead of it.
  return {
    stop: () => {
      clearInterval(timer);
      mark(now());
    },
  };
}

/** Until when the daemon that left the mark was alive (ms since the epoch); undefined without one. */
export function readAliveMark(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
