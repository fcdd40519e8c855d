/**
 * `npm run demo`: one small goal, run in process on a throwaway state directory. Offline on the simulated
 * model unless ANTHROPIC_API_KEY is set (then on the real models, through ANTHROPIC_BASE_URL if given).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCost, loadConfig, isOrcError, type OrcEvent, simulatedSpendNote } from '@orc/shared';
import { createOrchestrator } from './orchestrator/create-orchestrator.js';

const GOAL =
  process.argv.slice(2).join(' ') ||
  'Write a short guide to brewing tea: choose the leaves, heat the water and time the steep, then serve it';

async function main(): Promise<void> {
  const home = await mkdtemp(join(tmpdir(), 'orc-demo-'));
  const loaded = loadConfig({
    overrides: { execution: { max_workers: 3 }, simulated: { latency_ms: { min: 150, max: 600 } } },
  });
  const orchestrator = await createOrchestrator({ home, loaded });
  const controller = new AbortController();
  try {
    const run = await orchestrator.startRun({ goal: GOAL });
    const label = run.models.simulated
      ? ' — SIMULATED model (offline; set ANTHROPIC_API_KEY for real models)'
      : '';
    console.log(`run ${run.id}: ${GOAL}${label}`);
    console.log(
      `manager ${run.models.manager.model}, workers ${run.models.worker.model} ×${run.maxWorkers}\n`,
    );
    const follow = (async () => {
      for await (const event of orchestrator.events(run.id, 0, controller.signal)) print(event);
    })();
    const summary = await orchestrator.waitForRun(run.id);
    controller.abort();
    await follow;
    const view = await orchestrator.getRun(run.id);
    console.log(
      `\nrun ${summary.status}: ${view.tasks.filter((t) => t.status === 'done').length}/${view.tasks.length} tasks done`,
    );
    const notSpent = simulatedSpendNote(summary.models);
    console.log(
      `tokens in ${summary.usage.inputTokens} (cache reads ${summary.usage.cacheReadTokens}), out ${summary.usage.outputTokens}; cost ${formatCost(summary.costUsd)}${notSpent ? ` (${notSpent})` : ''}`,
    );
    if (view.finalReview) {
      console.log(`\nfinal review (${view.finalReview.verdict}): ${view.finalReview.summary}`);
      for (const followUp of view.finalReview.followUps) console.log(`  - ${followUp}`);
    }
    if (summary.status !== 'completed') process.exitCode = 1;
  } finally {
    controller.abort();
    await orchestrator.close();
    await rm(home, { recursive: true, force: true });
  }
}

/** Each task's last answer: its result once done (`task.completed` does not tell it again). */
const answers = new Map<string, string>();

function print(event: OrcEvent): void {
  switch (event.type) {
    case 'run.planned':
      console.log(`plan: ${event.summary}`);
      for (const task of event.tasks) {
        const deps = task.dependencies.length > 0 ? ` (after ${task.dependencies.join(', ')})` : '';
        console.log(`  ${task.id}  ${task.title}${deps}`);
      }
      console.log('');
      break;
    case 'task.assigned':
      console.log(`▶ ${event.taskId} started on worker ${event.worker}`);
      break;
    case 'task.worked':
      answers.set(event.taskId, event.output);
      break;
    case 'task.completed': {
      const result = event.result ?? answers.get(event.taskId) ?? '';
      console.log(`✔ ${event.taskId} done: ${result.split('\n')[0]!.slice(0, 100)}`);
      break;
    }
    case 'task.attempt_failed':
      console.log(
        `! ${event.taskId} attempt ${event.attempt} failed (${event.error.category}): ${event.error.message}`,
      );
      break;
    case 'task.failed':
      console.log(`✖ ${event.taskId} failed: ${event.error}`);
      break;
    case 'run.plan_rejected':
      console.log(`plan ${event.attempt} refused: ${event.error}`);
      break;
    default:
      break;
  }
}

main().catch((error: unknown) => {
  console.error(isOrcError(error) ? `orc demo: ${error.message}` : error);
  process.exitCode = 1;
});
