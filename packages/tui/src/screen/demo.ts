#!/usr/bin/env node
/**
 * The attach screen on a real run of the simulated model (offline, labelled SIMULATED), no daemon of
 * your own needed: a daemon runs in this process on a throwaway state directory, served on a free port,
 * and the screen is its client, as `orc attach` is.
 *   node packages/tui/dist/screen/demo.js [tasks] [workers] [stepMs]
 * `stepMs` sets the model's pace (a call takes 4 to 8 steps). Set ORC_DEMO_OUTAGE_MS to stop the daemon
 * for that long, five seconds in: the screen says so and follows the daemon that comes back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@orc/daemon/client';
import { createOrchestrator, runDaemon, type RunningDaemon } from '@orc/daemon';
import type { TaskSpecInput } from '@orc/shared';
import { ConnectionWatch } from '../cli/daemon-connection.js';
import { attachScreen } from './screen.js';

const [tasks = 40, workers = 3, stepMs = 150] = process.argv.slice(2).map(Number);

const home = await mkdtemp(join(tmpdir(), 'orc-demo-'));
const startDaemon = () =>
  runDaemon({
    home,
    env: {},
    graceMs: 0,
    openOrchestrator: (options) =>
      createOrchestrator({
        ...options,
        config: {
          models: { provider: 'simulated' },
          execution: { max_workers: workers },
          simulated: { latency_ms: { min: stepMs * 4, max: stepMs * 8 } },
        },
      }),
  });
let daemon: RunningDaemon = await startDaemon();
const connection = new ConnectionWatch();
const client = await createClient({
  home,
  env: {},
  onDisconnect: () => connection.notify(false),
  onReconnect: () => connection.notify(true),
});
try {
  const run = await client.trpc.runs.start.mutate({ tasks: guideSections(tasks) });
  const outage = Number(process.env['ORC_DEMO_OUTAGE_MS'] ?? 0);
  if (outage > 0) {
    setTimeout(() => {
      void daemon.stop('demo outage').then(async () => {
        await new Promise((resolve) => setTimeout(resolve, outage));
        daemon = await startDaemon();
      });
    }, 5000).unref();
  }
  const result = await attachScreen({ trpc: client.trpc, connection }, run.id, {
    reattachCommand: () => 'node packages/tui/dist/screen/demo.js',
  });
  process.exitCode = result.outcome === 'interrupted' ? 130 : 0;
} finally {
  await client.close();
  await daemon.stop('the demo is over');
  await rm(home, { recursive: true, force: true });
}

/** Sections of a guide, in chains of four: each section after the first of its chain waits for the one before. */
function guideSections(count: number): TaskSpecInput[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `t${i + 1}`,
    title: `Write section ${i + 1} of the guide`,
    description: `Section ${i + 1} of a guide to the orc terminal UI: explain one part with an example.`,
    dependencies: i % 4 === 0 ? [] : [`t${i}`],
  }));
}
