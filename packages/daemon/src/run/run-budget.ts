import { addUsage, type ModelPrice, type Usage } from '@orc/shared';
import { costOf } from '../model/pricing.js';

/** What the budget reads and writes of the run's document. */
export interface SpendRecord {
  usage: Usage;
  costUsd: number;
  /** A person resumed the run after its budget paused it: it goes on past the limit. */
  budgetLifted?: boolean | undefined;
}

/**
 * A run's spend: every call's usage and cost added to the run's totals, the average cost of an attempt,
 * and the check that pauses a run before its next attempt would pass `max_cost_usd`.
 */
export class RunBudget {
  private attempts = { total: 0, count: 0 };

  constructor(
    private readonly spend: SpendRecord,
    private limitUsd: number | undefined,
    private readonly prices: (model: string) => ModelPrice | undefined,
  ) {}

  get costUsd(): number {
    return this.spend.costUsd;
  }

  get limit(): number | undefined {
    return this.limitUsd;
  }

  /** Adds a call to the run; its cost as the provider reported it, else priced from the table. */
  charge(usage: Usage, model: string, reportedCost?: number): number {
    const cost = reportedCost ?? costOf(usage, this.prices(model));
    this.spend.usage = addUsage(this.spend.usage, usage);
    this.spend.costUsd += cost;
    return cost;
  }

  /** A finished attempt's cost counts towards the next attempt's forecast. */
  countAttempt(costUsd: number): void {
    if (costUsd <= 0) return;
    this.attempts.total += costUsd;
    this.attempts.count += 1;
  }

  /** Whether one more attempt, with `inFlight` others still to be paid for, would pass the limit. */
  wouldExceed(inFlight: number): boolean {
    const limit = this.limitUsd;
    if (limit === undefined || this.spend.budgetLifted === true) return false;
    const average = this.attempts.count > 0 ? this.attempts.total / this.attempts.count : 0;
    return this.spend.costUsd >= limit || this.spend.costUsd + average * (inFlight + 1) > limit;
  }

  /**
   * What the run may still spend (USD), for a provider that can stop a call at a budget itself (Claude
   * Code's `maxBudgetUsd`); undefined when the run has no budget, or a person lifted it.
   */
  remaining(): number | undefined {
    if (this.limitUsd === undefined || this.spend.budgetLifted === true) return undefined;
    return Math.max(0, this.limitUsd - this.spend.costUsd);
  }

  /** The run goes on within a new limit. */
  setLimit(usd: number): void {
    this.limitUsd = usd;
    this.spend.budgetLifted = false;
  }

  /** A person chose to go on past the limit. */
  lift(): void {
    this.spend.budgetLifted = true;
  }

  describe(runId: string): string {
    return `spent $${this.spend.costUsd.toFixed(4)} of the $${this.limitUsd} budget; orc resume ${runId} --budget <usd> goes on within a new one, without --budget past it`;
  }
}
