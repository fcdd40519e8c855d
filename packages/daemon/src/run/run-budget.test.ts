import { ZERO_USAGE, type Attempt } from '@orc/shared';
import { describe, expect, it } from 'vitest';
import { RunBudget } from './run-budget.js';

const attempt = { n: 1, worker: 0, startedAt: '', outcome: 'failed', usage: ZERO_USAGE, costUsd: 0.0006 };
const task = {
  id: 'b',
  attempts: [attempt as Attempt],
  error:
    'task b would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.0006; a retry needs a cap of $0.0042: orc retry r1 b --task-budget 0.0042',
};
const head = task.error.slice(0, task.error.indexOf('; a retry'));
/** A budget whose task b stopped at a $0.001 cap, advised $0.0042, under the run's cap `cap` now. */
const budget = (cap: number) =>
  new RunBudget(
    {
      id: 'r1',
      usage: ZERO_USAGE,
      costUsd: 0,
      retryCaps: { b: { spentUsd: 0.0006, capUsd: 0.0042, underUsd: 0.001 } },
    },
    undefined,
    () => undefined,
    cap,
  );

describe('RunBudget.revisedError', () => {
  it('leaves the advice as it is under the cap the task stopped at', () => {
    expect(budget(0.001).revisedError(task)).toBeUndefined();
  });

  it('advises a plain retry once the run cap is enough, and again the figure if not', () => {
    const enough = budget(0.005).revisedError(task);
    expect(enough).toBe(`${head}; the cap is $0.005 now, enough for a retry: orc retry r1 b`);
    const short = budget(0.003).revisedError({ ...task, error: enough! });
    expect(short).toBe(
      `${head}; a retry needs a cap of $0.0042 (the cap is $0.003 now): orc retry r1 b --task-budget 0.0042`,
    );
  });

  it('revises nothing once the task spent more than its kept figure was for', () => {
    const spent = { ...task, attempts: [{ ...attempt, costUsd: 0.0009 } as Attempt] };
    expect(budget(0.005).revisedError(spent)).toBeUndefined();
  });
});

/** $4 a million input tokens: a prompt of 700 characters (175 tokens) costs $0.0007. */
const price = () => ({ input: 4, output: 20 });
const spentTask = { id: 'b', attempts: [{ ...attempt, costUsd: 0.00051 } as Attempt] };

describe('RunBudget.checkTask', () => {
  it('says how the retry figure is made, each part with where it comes from, the parts adding up to it', () => {
    const capped = new RunBudget({ id: 'r1', usage: ZERO_USAGE, costUsd: 0 }, undefined, price, 0.001);
    capped.countAttempt(0.0007);
    const review = { kind: 'review' as const, model: 'm', system: '', prompt: 'x'.repeat(700) };
    expect(() => capped.checkTask(spentTask, review)).toThrow(
      "task b would pass the cost cap of a task ($0.001, execution.max_task_cost_usd): it has cost $0.00051 and a review is guessed at $0.0007 (its prompt at the full input price: none has come back yet); a retry is counted as $0.00051 spent + $0.0007 for an attempt (the run's average) + $0.0028 for its review (4× its prompt's $0.0007, as no review has come back yet to price its answer), rounded up; a retry needs a cap of $0.0041: orc retry r1 b --task-budget 0.0041",
    );
    // The figure is the one every surface gives.
    expect(capped.neededCap(spentTask)).toBe(0.0041);
  });
});

describe('RunBudget.retryRefusal', () => {
  const kept = () =>
    new RunBudget(
      {
        id: 'r1',
        usage: ZERO_USAGE,
        costUsd: 0,
        retryCaps: { b: { spentUsd: 0.00051, capUsd: 0.0041, underUsd: 0.001 } },
      },
      undefined,
      price,
      0.001,
    );

  it("names a --task-budget just asked as asked, not as the run's cap", () => {
    expect(kept().retryRefusal('r1', spentTask, 0.002, true)).toBe(
      "--task-budget 0.002 is not enough for task b: it has cost $0.00051 and a retry (an attempt and its review) needs $0.0041; orc retry r1 b --task-budget 0.0041 (or more) raises the run's cap",
    );
    expect(kept().retryRefusal('r1', spentTask)).toBe(
      "task b has cost $0.00051 of a $0.001 cap (execution.max_task_cost_usd): a retry (an attempt and its review) needs $0.0041; orc retry r1 b --task-budget 0.0041 (or more) raises the run's cap",
    );
  });
});

describe('RunBudget.finalReviewOverBudget', () => {
  const call = { kind: 'review' as const, model: 'm', system: '', prompt: 'x'.repeat(100) };
  it("foresees the final review at the run's average review and stops it past the budget unless lifted", () => {
    const near = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.0045 }, 0.005, price);
    near.countReview(0.0007);
    expect(near.finalReviewOverBudget(call)).toBeCloseTo(0.0007, 10);
    near.lift();
    expect(near.finalReviewOverBudget(call)).toBeUndefined();
    const within = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.004 }, 0.005, price);
    within.countReview(0.0007);
    expect(within.finalReviewOverBudget(call)).toBeUndefined();
    // No review back yet: four times its prompt's input, as an attempt's first guess.
    expect(
      new RunBudget({ usage: ZERO_USAGE, costUsd: 0.005 }, 0.005, price).finalReviewOverBudget(call),
    ).toBeCloseTo(0.0004, 10);
    // A final review's prompt holds every task: far above the tasks' reviews, it is guessed from itself.
    const large = { ...call, prompt: 'x'.repeat(2_000) };
    const reviewed = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.004 }, 0.005, price);
    reviewed.countReview(0.0007);
    expect(reviewed.finalReviewOverBudget(large)).toBeCloseTo(0.008, 10);
  });
});

describe('RunBudget.wouldExceed', () => {
  const call = { kind: 'attempt' as const, model: 'm', system: '', prompt: 'x'.repeat(4_000) };
  /** $1 a million input tokens: the 4,000-character prompt is 1,000 tokens, $0.001 at least. */
  const spending = (costUsd: number, limit: number) =>
    new RunBudget({ usage: ZERO_USAGE, costUsd }, limit, () => ({ input: 1, output: 1 }));

  it('reserves a task before any call came back at 4× its prompt, its review as much', () => {
    expect(spending(0, 1).reserve(() => call)).toEqual({ attemptUsd: 0.004, reviewUsd: 0.004 });
  });

  it("counts each task under way at the run's averages: its attempt while it runs, and its review", () => {
    const budget = spending(0.5, 1);
    budget.countAttempt(0.2);
    budget.countReview(0.1);
    // Free calls count towards the averages too (a review at $0 is one).
    budget.countReview(0);
    const reserved = budget.reserve(() => {
      throw new Error('not asked once the averages are known');
    });
    expect(reserved).toEqual({ attemptUsd: 0.2, reviewUsd: 0.05 });
    const reviewing = { reserved: { attemptUsd: 9, reviewUsd: 9 }, attempting: false };
    const running = { reserved, attempting: true };
    // $0.5 spent + a review under way ($0.05) + an attempt and its review under way ($0.25) + the next ($0.25).
    expect(budget.wouldExceed([reviewing, running], running)).toBe(true);
    expect(budget.wouldExceed([reviewing], running)).toBe(false);
    budget.lift();
    expect(budget.wouldExceed([reviewing, running], running)).toBe(false);
  });
});

describe('RunBudget.describe', () => {
  const spent = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.0013 }, 0.003, () => undefined);
  const resume = 'orc resume r1 --budget <usd> goes on within a new one, without --budget past it';

  it('says what did not fit when the budget is not passed: the next work, beside what is under way', () => {
    // A trial's pause read `run.budget_exceeded $0.0013 of $0.003`, nothing saying what did not fit.
    const need = { what: 'the next task (t3)', usd: 0.0012, for: 'its attempt and review' };
    expect(spent.describe('r1', { text: '1 attempt and 1 review', usd: 0.0012 }, need)).toBe(
      `spent $0.0013 of the $0.003 budget, and the next task (t3) needs about $0.0012 for its attempt and review, which does not fit beside the 1 attempt and 1 review still under way (about $0.0012); ${resume}`,
    );
    expect(spent.describe('r1', undefined, { ...need, usd: 0.002 })).toBe(
      `spent $0.0013 of the $0.003 budget, and the next task (t3) needs about $0.002 for its attempt and review, which does not fit; ${resume}`,
    );
  });

  it('says when what did not fit fits once the work under way has landed, and how to go on within it', () => {
    const need = { what: 'the next task (t3)', usd: 0.0012, for: 'its attempt and review' };
    const landed = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.0016 }, 0.003, () => undefined);
    expect(landed.describe('r1', undefined, need)).toBe(
      'spent $0.0016 of the $0.003 budget, and the next task (t3) needs about $0.0012, which fits now that the work under way has landed; orc resume r1 --budget 0.003 goes on within it (without --budget: past it)',
    );
  });

  it('says only the spend once the budget is passed', () => {
    const passed = new RunBudget({ usage: ZERO_USAGE, costUsd: 0.0031 }, 0.003, () => undefined);
    expect(passed.describe('r1', { text: '1 review', usd: 0.0004 })).toBe(
      `spent $0.0031 of the $0.003 budget (1 review still under way, about $0.0004); ${resume}`,
    );
  });
});
