import type { TaskReview, FinalReview, Usage } from '@orc/shared';
import type { Clock } from '../clock.js';
import { CallCancelledError } from './model-error.js';
import { seededRandom } from './seeded-random.js';
import { SIMULATED_LABEL, planFor } from './simulated-plan.js';
import type { ModelProvider, ModelRequest, ModelResponse } from './provider.js';

export interface SimulatedOptions {
  seed: number;
  latencyMs: { min: number; max: number };
  clock: Clock;
}

export { SIMULATED_LABEL } from './simulated-plan.js';

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
      const openers = ['Done', 'Completed', 'Finished'];
      const opener = openers[Math.floor(random() * openers.length)]!;
      // A short first line: it is what a log line or the demo shows of a result.
      return (
        `${SIMULATED_LABEL} ${opener}: ${title?.[2] ?? 'the task'} (task ${title?.[1] ?? '?'}).\n\n` +
        'The steps were carried out as described and the result is ready for review. ' +
        'No model was called: this answer is simulated.'
      );
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
