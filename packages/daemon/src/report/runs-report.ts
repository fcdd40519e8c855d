import type { ReworkRate, RunReport, RunsReport, Spend, TaskCounts } from '@orc/shared';
import { addUsage, ZERO_USAGE } from '@orc/shared';
import { ReasonGroups } from './reason-groups.js';

/**
 * Sums up the reports of every run in a window: spend, runs by status, rework rates by worker model and
 * by kind of task, the reasons that come back most. What a person tunes prompts, models and budgets by.
 */
export class RunsReportBuilder {
  private readonly runs: RunsReport['runs'] = [];
  private readonly byStatus: TaskCounts = {};
  private spend: Spend = { usage: ZERO_USAGE, costUsd: 0 };
  private simulatedCostUsd = 0;
  private readonly byModel = new Rates();
  private readonly byKind = new Rates();
  private readonly failureReasons = new ReasonGroups();
  private readonly reworkReasons = new ReasonGroups();
  private readonly unreadable: RunsReport['unreadable'] = [];

  add(report: RunReport): void {
    this.runs.push({
      id: report.runId,
      goal: report.goal,
      status: report.status,
      createdAt: report.createdAt,
      costUsd: report.spend.total.costUsd,
      tasks: report.taskTotal,
      reworkRate: report.reworkRate,
      models: report.models,
    });
    this.byStatus[report.status] = (this.byStatus[report.status] ?? 0) + 1;
    this.spend = {
      usage: addUsage(this.spend.usage, report.spend.total.usage),
      costUsd: this.spend.costUsd + report.spend.total.costUsd,
    };
    const { manager, worker } = report.models;
    if (manager.provider === 'simulated') this.simulatedCostUsd += report.spend.manager.costUsd;
    if (worker.provider === 'simulated') this.simulatedCostUsd += report.spend.workers.costUsd;
    const reviewed = new Set(report.timeline.filter((a) => a.verdict !== undefined).map((a) => a.taskId));
    const model = `${report.models.worker.provider}/${report.models.worker.model}`;
    for (const task of report.tasks) {
      if (!reviewed.has(task.id)) continue;
      this.byModel.count(model, task.reworks > 0);
      this.byKind.count(kindOf(task.title), task.reworks > 0);
    }
    this.failureReasons.addAll(report.failureReasons.map((g) => ({ ...g, tasks: tagged(report, g.tasks) })));
    this.reworkReasons.addAll(report.reworkReasons.map((g) => ({ ...g, tasks: tagged(report, g.tasks) })));
  }

  /** A run whose files could not be read: named in the report rather than silently left out. */
  skip(runId: string, reason: string): void {
    this.unreadable.push({ id: runId, reason });
  }

  finish(since: number, now: number): RunsReport {
    return {
      since: new Date(since).toISOString(),
      at: new Date(now).toISOString(),
      runs: this.runs.sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
      byStatus: this.byStatus,
      spend: this.spend,
      simulatedCostUsd: this.simulatedCostUsd,
      reworkByModel: this.byModel.list(),
      reworkByKind: this.byKind.list(),
      failureReasons: this.failureReasons.top(),
      reworkReasons: this.reworkReasons.top(),
      unreadable: this.unreadable,
    };
  }
}

/**
 * Words that say nothing of what a task does: a title's articles, pronouns, connectives and prepositions
 * ("An FAQ for the API", "Then add the tests", "Please fix it").
 */
const NOT_A_KIND = new Set(
  (
    'a an the this that these those some any each every all both another other such no ' +
    "my your our its their his her i we you it they us me let lets let's " +
    'and or but then also so please now first next finally lastly just ' +
    'to of for in on at by with from into onto about as over under after before'
  ).split(' '),
);

/**
 * The kind of a task: the first word of its title that says what it does, lowercased — its leading verb
 * in a plan's imperative titles ("Add login form" → "add", "Then write an FAQ" → "write", "An FAQ" →
 * "faq"). Articles and such are skipped, and so are words with digits in them (ids, versions).
 */
export function kindOf(title: string): string {
  for (const [word] of title.matchAll(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu)) {
    const lower = word.toLowerCase().replace('’', "'");
    if (/^\p{L}/u.test(lower) && !/\p{N}/u.test(lower) && !NOT_A_KIND.has(lower)) return lower;
  }
  return '(untitled)';
}

/** Task ids across runs are named with their run: `r1a2b3c/3`. */
function tagged(report: RunReport, tasks: readonly string[]): string[] {
  return tasks.map((task) => `${report.runId}/${task}`);
}

class Rates {
  private readonly counts = new Map<string, { reviewed: number; reworked: number }>();

  count(key: string, reworked: boolean): void {
    const entry = this.counts.get(key) ?? { reviewed: 0, reworked: 0 };
    entry.reviewed += 1;
    if (reworked) entry.reworked += 1;
    this.counts.set(key, entry);
  }

  list(): ReworkRate[] {
    return [...this.counts.entries()]
      .map(([key, { reviewed, reworked }]) => ({ key, reviewed, reworked, rate: reworked / reviewed }))
      .sort((a, b) => b.reviewed - a.reviewed || a.key.localeCompare(b.key));
  }
}
