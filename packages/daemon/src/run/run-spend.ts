import { RUN_SPEND_EVENTS, type NewEvent, type RunSpend } from '@orc/shared';

/**
 * The event with the run's spend so far when it is one that follows a model call. Without it a client
 * could only add up what `task.completed` carries, and missed the manager's plans and reviews and every
 * reworked attempt: live $0.021 against $0.047 in `orc show` for the same run.
 */
export function withRunSpend(event: NewEvent, spend: RunSpend): NewEvent {
  if (!RUN_SPEND_EVENTS.has(event.type)) return event;
  return { ...event, spent: { usage: spend.usage, costUsd: spend.costUsd } } as NewEvent;
}
