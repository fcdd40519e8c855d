import type { NewEvent, RunForecast, RunSpend, Usage } from '@orc/shared';
import type { Clock } from '../clock.js';

/**
 * The forecast rides with the totals at most this often. It is an estimate that moves slowly, and at full
 * speed it went with two events a task: 75 bytes each, a seventh of a 100k run's stream, and the CPU to
 * work it out 11,000 times a second. A run whose calls take seconds tells it with every change.
 */
const FORECAST_EVERY_MS = 1_000;

/**
 * Gives the run's spend so far to the first event after it changed. Without it a client could only add
 * up what `task.completed` carries, and missed the manager's plans and reviews and every reworked
 * attempt (live $0.021 against $0.047 in `orc show` for the same run); with it on every event it cost
 * 150 bytes an event. A charge and the event that tells of it are made in one turn (AttemptRunner,
 * the manager's calls), so a client's totals are the run's at every event.
 */
export class RunSpendTeller {
  private told: RunSpend;
  /** When the forecast was last told (-Infinity: not yet). */
  private forecastAt = -Infinity;
  /** The totals changed since the forecast was last told. */
  private owed = false;

  constructor(
    private readonly spend: RunSpend,
    private readonly clock: Clock,
  ) {
    // A restored run's totals are what its journal last told (the document was caught up from it).
    this.told = { usage: spend.usage, costUsd: spend.costUsd };
  }

  /** `forecast`: where the run is heading, told with the totals it follows from (see FORECAST_EVERY_MS). */
  tell(event: NewEvent, forecast?: () => RunForecast | undefined): NewEvent {
    const { usage, costUsd } = this.spend;
    const changed = costUsd !== this.told.costUsd || !sameUsage(usage, this.told.usage);
    // A forecast the last changes did not tell goes with the run's next status (it may change no more:
    // a paused run's screen kept one from before its last charges, $0.03 beside `orc show`'s $0.024).
    const owedNow = this.owed && STATUS_EVENTS.has(event.type);
    if (!changed && !owedNow) return event;
    this.told = { usage, costUsd };
    const now = this.clock.now();
    const ahead = owedNow || now - this.forecastAt >= FORECAST_EVERY_MS ? forecast?.() : undefined;
    if (ahead !== undefined) this.forecastAt = now;
    this.owed = ahead === undefined && (changed || this.owed);
    return { ...event, spent: { usage, costUsd, ...(ahead !== undefined && { forecast: ahead }) } };
  }
}

/** Events that tell the run's status: what a screen shows while nothing else comes. */
const STATUS_EVENTS: ReadonlySet<string> = new Set(['run.status', 'run.paused', 'run.resumed']);

function sameUsage(a: Usage, b: Usage): boolean {
  return (
    a.inputTokens === b.inputTokens &&
    a.outputTokens === b.outputTokens &&
    a.cacheReadTokens === b.cacheReadTokens &&
    a.cacheWriteTokens === b.cacheWriteTokens
  );
}
