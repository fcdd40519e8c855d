import { FINISHED_RUN_STATUSES, loadConfig, type RunSummary } from '@orc/shared';
import type { Command } from 'commander';
import { UsageError } from './cli-error.js';
import { withClient } from './daemon-connection.js';
import { matchRunRef } from './run-ref.js';

export function registerAttachCommand(program: Command): void {
  program
    .command('attach')
    .description('open the terminal UI on a run (the newest unfinished one by default); q detaches')
    .argument('[run]', 'run id (or a unique prefix, or last)')
    .action(async (runId: string | undefined) => {
      await attachCommand(runId, { exitOnFinish: false });
    });
}

/** Opens the screen on a run; `orc run` on a terminal uses it too, leaving once the run is over. */
export async function attachCommand(
  runId: string | undefined,
  options: { exitOnFinish: boolean },
): Promise<void> {
  const terminal = process.stdout.isTTY && process.stdin.isTTY;
  const { config } = loadConfig();
  await withClient(async (client, connection) => {
    const runs = await client.trpc.runs.list.query();
    const target = runId === undefined ? pickRun(runs) : matchRunRef(runs, runId).id;
    // Fails with the daemon's one-line "no run …" before the screen takes the terminal, and before the
    // advice for a pipe: a run id that names no run was sent on to orc logs.
    await client.trpc.runs.get.query({ runId: target });
    if (!terminal)
      throw new UsageError(`orc attach needs a terminal; use orc logs ${target} --follow instead`);
    // The screen (blessed) is loaded by the commands that draw it only (see main.ts).
    const { attachScreen } = await import('../screen/screen.js');
    await attachScreen({ trpc: client.trpc, connection }, target, {
      showProgressBar: config.monitoring.show_progress_bar,
      exitOnFinish: options.exitOnFinish,
      bell: config.notifications.bell,
    });
  });
}

function pickRun(runs: RunSummary[]): string {
  const newestFirst = [...runs].reverse();
  const active = (r: RunSummary) => !FINISHED_RUN_STATUSES.has(r.status) && r.status !== 'damaged';
  const run = newestFirst.find(active) ?? newestFirst[0];
  if (!run) throw new UsageError('there is no run to attach to; start one with orc run "<goal>"');
  return run.id;
}
