import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The daemon under the CPU profiler (`npm run bench -- --profile DIR`): NODE_OPTIONS cannot carry
 * `--cpu-prof`, so this entry starts the profiler, runs the daemon's own entry, and writes a
 * `.cpuprofile` (open it in Chrome DevTools) and its event-loop delay (ms) when the daemon exits.
 */
const dir = process.env['ORC_BENCH_PROFILE_DIR'];
if (!dir) throw new Error('ORC_BENCH_PROFILE_DIR is not set');
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 200 });
session.post('Profiler.start');
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
process.on('exit', () => {
  loopDelay.disable();
  const ms = (ns: number) => Math.round(ns / 1e5) / 10;
  const delay = {
    p50: ms(loopDelay.percentile(50)),
    p99: ms(loopDelay.percentile(99)),
    max: ms(loopDelay.max),
  };
  writeFileSync(join(dir, `daemon-${process.pid}.event-loop-delay.json`), `${JSON.stringify(delay)}\n`);
  // An in-thread inspector session answers synchronously, so this works inside 'exit'.
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(join(dir, `daemon-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
const daemonIndex = fileURLToPath(import.meta.resolve('@orc/daemon'));
await import(join(dirname(daemonIndex), 'daemon', 'main.js'));
