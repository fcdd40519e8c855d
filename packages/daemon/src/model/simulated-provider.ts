import type { Plan, TaskReview, FinalReview, Usage } from '@orc/shared';
import type { Clock } from '../clock.js';
import { CallCancelledError } from './model-error.js';
import { seededRandom } from './seeded-random.js';
import type { ModelProvider, ModelRequest, ModelResponse } from './provider.js';

export interface SimulatedOptions {
  seed: number;
  latencyMs: { min: number; max: number };
  clock: Clock;
}

/** Marks every simulated answer, so nobody mistakes it for a model's. */
export const SIMULATED_LABEL = '[simulated]';

/**
 * The offline model: deterministic for a seed and a request (the same prompt gets the same answer and
 * latency whatever else runs), with configurable latency (zero for benchmarks). It plans by splitting the
 * goal into a few dependent tasks, answers tasks with plausible text and accepts results.
 */
export function createSimulatedProvider(options: SimulatedOptions): ModelProvider {
  return {
    name: 'simulated',
    async complete(request: ModelRequest): Promise<ModelResponse> {
      const random = seededRandom(hash(`${options.seed}|${request.purpose}|${request.prompt}`));
      const { min, max } = options.latencyMs;
      const latency = min + (max - min) * random();
      if (request.signal.aborted) throw new CallCancelledError('the call was cancelled');
      try {
        // Even at zero latency the answer arrives on a later turn of the event loop, as a network reply
        // would; otherwise a whole run could execute in one chain of microtasks and starve all I/O.
        if (latency > 0) await options.clock.sleep(latency, request.signal);
        else await new Promise((resolve) => setImmediate(resolve));
      } catch {
        throw new CallCancelledError('the call was cancelled');
      }
      const text = answer(request, random);
      if (request.onText) {
        // Stream in a few pieces, as a real model would.
        const pieces = Math.min(4, Math.max(1, Math.ceil(text.length / 200)));
        const size = Math.ceil(text.length / pieces);
        for (let i = 0; i < text.length; i += size) request.onText(text.slice(i, i + size));
      }
      return { text, usage: usageFor(request, text), stopReason: 'end_turn' };
    },
  };
}

function answer(request: ModelRequest, random: () => number): string {
  switch (request.purpose) {
    case 'plan':
      return JSON.stringify(planFor(goalOf(request.system)));
    case 'review': {
      const review: TaskReview = {
        verdict: 'accept',
        feedback: `${SIMULATED_LABEL} The result covers the task.`,
      };
      return JSON.stringify(review);
    }
    case 'final-review':
      return JSON.stringify(finalReviewOf(request.prompt));
    case 'work': {
      const title = /^# Task (\S+): (.*)$/m.exec(request.prompt);
      const openers = ['Done.', 'Completed.', 'Finished the task.'];
      const opener = openers[Math.floor(random() * openers.length)]!;
      return `${SIMULATED_LABEL} ${opener} Work for task ${title?.[1] ?? '?'} (${title?.[2] ?? 'untitled'}): the steps were carried out as described and the result is ready for review.\n\nSummary: ${title?.[2] ?? 'the task'} is complete (simulated, no model was called).`;
    }
  }
}

/**
 * True whether the workers were simulated too or were real agents (a simulated manager over Claude Code
 * workers): only the review itself is known to be simulated.
 */
const NOT_JUDGED = 'This review was simulated: no model judged the work.';

/**
 * Judges the run by the task lines of the final-review prompt (`- t2 [failed] Title`), so a run whose tasks
 * failed is not told "every task was completed" (it was, before: `run failed` beside `review: success`).
 */
export function finalReviewOf(prompt: string): FinalReview {
  const tasks = [...prompt.matchAll(/^- (\S+) \[([a-z_]+)\]/gm)].map(([, id, status]) => ({ id, status }));
  const notDone = tasks.filter((t) => t.status !== 'done');
  const followUps = [
    'Run the same goal on real models: set ANTHROPIC_API_KEY, and leave models.provider and ' +
      'models.manager.provider unset (or set them to anthropic).',
  ];
  if (notDone.length === 0) {
    return {
      verdict: 'success',
      summary: `${SIMULATED_LABEL} Every task was completed. ${NOT_JUDGED}`,
      followUps,
    };
  }
  const listed = notDone.map((t) => `${t.id} (${t.status})`).join(', ');
  return {
    verdict: notDone.length === tasks.length ? 'failure' : 'partial',
    summary:
      `${SIMULATED_LABEL} ${tasks.length - notDone.length} of ${tasks.length} tasks were completed; ` +
      `not done: ${listed}. ${NOT_JUDGED}`,
    followUps,
  };
}

function goalOf(system: string): string {
  const match = /The goal of this run:\n([\s\S]*)$/.exec(system);
  return (match?.[1] ?? system).trim();
}

/**
 * Splits a goal into parts at "and", commas and semicolons: an analysis task first, one task per part in
 * parallel, then an integration task that depends on all of them. Each part touches its own folder, and
 * the first two the shared index too, as parts of a real change do, so the scheduler's file order shows:
 * t3 waits for t2 ("waits for src/index.ts held by t2") while the other parts run.
 */
export function planFor(goal: string): Plan {
  const parts = goal
    .split(/\s*(?:;|,|\band\b|\bthen\b)\s*/i)
    .map((p) => p.trim())
    .filter((p) => p.length > 2)
    .slice(0, 5);
  const pieces = parts.length >= 2 ? parts : [`${goal} (part one)`, `${goal} (part two)`];
  const tasks: Plan['tasks'] = [
    {
      id: 't1',
      title: 'Analyse the goal',
      description: `Work out what "${goal}" requires.`,
      dependencies: [],
      priority: 'high',
      touches: ['docs/plan.md'],
    },
    ...pieces.map((piece, i) => ({
      id: `t${i + 2}`,
      title: capitalise(piece).slice(0, 80),
      description: `Do this part of the goal: ${piece}.`,
      dependencies: ['t1'],
      priority: 'medium' as const,
      // The first two parts both register in the shared index, so the second waits for the first.
      touches: [`src/${slug(piece, i + 2)}/**`, ...(i < 2 ? ['src/index.ts'] : [])],
    })),
  ];
  tasks.push({
    id: `t${pieces.length + 2}`,
    title: 'Integrate and check the results',
    description: 'Bring the parts together and check them against the goal.',
    dependencies: pieces.map((_, i) => `t${i + 2}`),
    priority: 'medium',
    touches: ['src/**', 'README.md'],
  });
  return {
    summary: `${SIMULATED_LABEL} ${tasks.length} tasks: analysis, ${pieces.length} parts in parallel, integration.`,
    tasks,
  };
}

/** A folder name for a part: its last words, lower case, dashed ("part-2" when it has none). */
function slug(piece: string, n: number): string {
  const words =
    piece
      .toLowerCase()
      .match(/[a-z0-9]+/g)
      ?.slice(-3) ?? [];
  return words.length > 0 ? words.join('-') : `part-${n}`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function usageFor(request: ModelRequest, text: string): Usage {
  return {
    inputTokens: Math.ceil(request.prompt.length / 4),
    outputTokens: Math.ceil(text.length / 4),
    cacheReadTokens: Math.ceil(request.system.length / 4),
    cacheWriteTokens: 0,
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
