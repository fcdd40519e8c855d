import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OrcClient } from '@orc/daemon/client';
import type { ConfigInput, OrcEvent, RollbackStrategy, RunSummary, TaskStatus } from '@orc/shared';
import { readJournal, seededRandom } from '@orc/test-support';
import { sleep, startBenchDaemon } from '../bench-daemon.js';
import { DEFAULT_DAG, randomDag } from '../dag.js';
import { checkJournal, documentDisagreements } from '../journal-invariants.js';
import type { CaseResult } from '../report.js';
import { doneCount, failedCount } from '../run-watch.js';
import { daemonOptions, elapsedSince, type CaseContext } from './case-context.js';

/**
 * Short simulated calls on 8 workers: a run of a few hundred tasks lasts seconds, so a kill at a random
 * instant lands mid-attempt, mid-review, mid-checkpoint (one every 10 tasks) or mid-rollback.
 */
const CONFIG: ConfigInput = {
  execution: { max_workers: 8 },
  simulated: { seed: 13, latency_ms: { min: 5, max: 30 } },
  checkpoints: { every_n_tasks: 10 },
};

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
const STRATEGIES: readonly RollbackStrategy[] = ['full', 'partial', 'selective'];

/**
 * `kill -9` of the daemon at random instants of one run, some of them right after a checkpoint or a
 * rollback was asked for, each followed by a restart on the same state directory; a run paused by a
 * rollback is resumed. Once the run ends the journal and the document are checked: ids without gaps,
 * every task done exactly once since any rollback that reset it, nothing done run again, no journalled
 * answer paid twice, and the saved document agreeing with the journal. The seed is in the notes, so a
 * failure can be replayed.
 */
export async function chaosCase(ctx: CaseContext): Promise<CaseResult> {
  const started = Date.now();
  const size = ctx.quick ? 200 : 2000;
  const kills = ctx.quick ? 5 : 30;
  const seed = Number(process.env['ORC_CHAOS_SEED'] ?? Date.now() % 100_000);
  const random = seededRandom(seed);
  const daemon = await startBenchDaemon(daemonOptions(ctx));
  try {
    const tasks = randomDag({ ...DEFAULT_DAG, window: 16, tasks: size });
    const run = await daemon.client.trpc.runs.start.mutate({ tasks, config: CONFIG, source: 'bench chaos' });
    let client: OrcClient = daemon.client;
    const asked = { checkpoints: 0, rollbacks: 0, resumes: 0 };
    const deadline = Date.now() + (ctx.quick ? 90_000 : 900_000);

    for (let killed = 0; killed < kills; killed++) {
      const summary = await settled(client, run.id, asked);
      if (FINISHED.has(summary.status)) break;
      // A random instant of the run: most within its first second after a (re)start.
      await sleep(Math.floor(random() * (ctx.quick ? 400 : 1500)));
      const pick = random();
      if (pick < 0.25) {
        asked.checkpoints++;
        client.trpc.checkpoints.create.mutate({ runId: run.id, label: 'chaos' }).catch(() => undefined);
        await sleep(Math.floor(random() * 30));
      } else if (pick < 0.5) {
        const target = await rollbackTarget(client, run.id, random);
        if (target) {
          asked.rollbacks++;
          const begun = eventSeen(client, run.id, summary.lastEventId, 'run.rollback_started', 2000);
          client.trpc.checkpoints.rollback.mutate({ runId: run.id, ...target }).catch(() => undefined);
          await begun;
          // At once (within the rollback), a little later, or after it: in the rescheduling and the pause it ends in.
          const pace = random();
          if (pace > 0.5) await sleep(Math.floor(random() * (pace < 0.8 ? 15 : 300)));
        }
      }
      await daemon.kill();
      client = await daemon.restart();
      if (Date.now() > deadline) throw new Error(`chaos: ${killed + 1} kills took too long`);
    }
    let summary = await settled(client, run.id, asked);
    while (!FINISHED.has(summary.status)) {
      if (Date.now() > deadline) throw new Error(`chaos: run ${run.id} did not end (${summary.status})`);
      await sleep(50);
      summary = await settled(client, run.id, asked);
    }

    // The document as the daemon leaves it, against the journal.
    await daemon.stop();
    const events = await readJournal(daemon.home, run.id);
    const runDir = join(daemon.home, 'runs', run.id);
    const verdict = checkJournal(events, (checkpointId) => {
      const saved = JSON.parse(readFileSync(join(runDir, 'checkpoints', `${checkpointId}.json`), 'utf8')) as {
        tasks: { id: string; status: TaskStatus }[];
      };
      return new Set(saved.tasks.filter((t) => t.status === 'done').map((t) => t.id));
    });
    const document = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')) as {
      lastEventId: number;
      tasks: { id: string; status: TaskStatus }[];
    };
    const disagreements = documentDisagreements(document.tasks, verdict.done);
    if (document.lastEventId !== events.at(-1)?.id)
      disagreements.push(
        `the document is at event ${document.lastEventId}, the journal at ${events.at(-1)?.id}`,
      );
    const broken = [...verdict.violations, ...disagreements];
    const kinds = (type: string) => events.filter((e) => e.type === type).length;
    return {
      name: 'chaos',
      metrics: [
        { label: 'kills survived', value: kinds('run.restored'), unit: '' },
        { label: 'broken invariants', value: broken.length, unit: '', target: { op: '<=', value: 0 } },
      ],
      tasks: { total: summary.taskTotal, done: doneCount(summary), failed: failedCount(summary) },
      lost: broken.length,
      seconds: elapsedSince(started),
      notes: [
        `seed ${seed} (ORC_CHAOS_SEED replays it): ${size} tasks, ${kinds('run.restored')} restarts; ` +
          `asked ${asked.checkpoints} checkpoints and ${asked.rollbacks} rollbacks before a kill, ` +
          `${kinds('run.rolled_back')} rollbacks done, ${finishedAfterKill(events)} of them by a restarted daemon; ` +
          `${events.length} events`,
        ...broken.slice(0, 10),
      ],
    };
  } finally {
    await daemon.dispose();
  }
}

/** Resolves once the run journals an event of `type` after `afterId`, or after `timeoutMs`. */
function eventSeen(
  client: OrcClient,
  runId: string,
  afterId: number,
  type: OrcEvent['type'],
  timeoutMs: number,
): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      subscription.unsubscribe();
      done();
    };
    const timer = setTimeout(finish, timeoutMs);
    const subscription = client.trpc.runs.events.subscribe(
      { runId, lastEventId: afterId },
      { onData: ({ data }) => data.type === type && finish(), onError: finish },
    );
  });
}

/** Rollbacks begun before a kill and finished by the restored run. */
function finishedAfterKill(events: readonly OrcEvent[]): number {
  let begun = false;
  let killed = false;
  let count = 0;
  for (const event of events) {
    if (event.type === 'run.rollback_started') [begun, killed] = [true, false];
    else if (event.type === 'run.restored' && begun) killed = true;
    else if (event.type === 'run.rolled_back' || event.type === 'run.rollback_failed') {
      if (begun && killed && event.type === 'run.rolled_back') count++;
      begun = false;
    }
  }
  return count;
}

/** The run's summary once it is not waiting for a person: a run paused by a rollback is resumed. */
async function settled(client: OrcClient, runId: string, asked: { resumes: number }): Promise<RunSummary> {
  for (;;) {
    const summary = (await client.trpc.runs.list.query()).find((r) => r.id === runId);
    if (!summary) throw new Error(`chaos: run ${runId} is not in runs.list`);
    // Paused by a rollback (`paused (rollback)`), or by a person: resumed as a person would.
    if (summary.status !== 'paused' || (summary.pauseReason !== 'rollback' && summary.pauseReason !== 'user'))
      return summary;
    asked.resumes++;
    // Refused while the rollback that paused it is still being finished: asked again.
    await client.trpc.runs.resume.mutate({ runId }).catch(() => undefined);
    await sleep(20);
  }
}

/** A checkpoint of the run and a strategy to roll back to it with, or none when it has none yet. */
async function rollbackTarget(
  client: OrcClient,
  runId: string,
  random: () => number,
): Promise<{ checkpointId: string; strategy: RollbackStrategy; tasks?: string[] } | undefined> {
  const checkpoints = await client.trpc.checkpoints.list.query({ runId });
  if (checkpoints.length === 0) return undefined;
  const checkpoint = checkpoints[Math.floor(random() * checkpoints.length)]!;
  const strategy = STRATEGIES[Math.floor(random() * STRATEGIES.length)]!;
  if (strategy !== 'selective') return { checkpointId: checkpoint.id, strategy };
  const run = await client.trpc.runs.get.query({ runId });
  const done = run.tasks.filter((t) => t.status === 'done');
  if (done.length === 0) return { checkpointId: checkpoint.id, strategy: 'full' };
  return { checkpointId: checkpoint.id, strategy, tasks: [done[Math.floor(random() * done.length)]!.id] };
}
