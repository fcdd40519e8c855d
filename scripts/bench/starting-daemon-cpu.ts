import { readFileSync } from 'node:fs';
import { procCpuMs } from './bench-daemon.js';

/**
 * The CPU time of a daemon as it starts, sampled every few ms from the moment it takes its instance lock
 * (which names its pid, before its engine opens). On the shared 2-core machine the wall time of a restart
 * follows the load; the CPU it took until a moment is much steadier.
 */
export interface StartingDaemonCpu {
  /** The daemon's CPU time (user + system, ms) at the first sample taken at or after `epochMs`; NaN if none. */
  at(epochMs: number): number;
  stop(): void;
}

const EVERY_MS = 5;

/** Samples the daemon that takes `lockFile` after the one with `previousPid`. */
export function sampleStartingDaemonCpu(lockFile: string, previousPid: number): StartingDaemonCpu {
  const samples: { at: number; cpuMs: number }[] = [];
  let pid = 0;
  const timer = setInterval(() => {
    try {
      if (pid === 0) {
        const held = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid?: unknown };
        if (typeof held.pid !== 'number' || held.pid === previousPid) return;
        pid = held.pid;
      }
      samples.push({ at: Date.now(), cpuMs: procCpuMs(pid) });
    } catch {
      // No lock yet (or half written), or the process is gone: the next tick tries again.
    }
  }, EVERY_MS);
  return {
    at: (epochMs) => samples.find((sample) => sample.at >= epochMs)?.cpuMs ?? NaN,
    stop: () => clearInterval(timer),
  };
}
