import { RUN_SPEND_EVENTS, type NewEvent, type RunForecast, type RunSpend } from '@orc/shared';

/**
 * The event with the run's spend so far (and its forecast) when it is one that follows a model call. Without it a client
 * could only add up what `task.completed` carries, and missed the manager's plans and reviews and every
 * reworked attempt: live $0.021 against $0.047 in `orc show` for the same run.
 */
export function withRunSpend(
  event: NewEvent,
  spend: RunSpend,
  forecast?: () => RunForecast | undefined,
): NewEvent {
  if (!RUN_SPEND_EVENTS.has(event.type)) return event;
  const ahead = forecast?.();
  return {
    ...event,
    spent: { usage: spend.usage, costUsd: spend.costUsd, ...(ahead !== undefined && { forecast: ahead }) },
  } as NewEvent;
}
