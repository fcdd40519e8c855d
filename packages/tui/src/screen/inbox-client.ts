import type { OrcClient } from '@orc/daemon/client';

/**
 * What the inbox view needs of the daemon: three procedures picked from the typed tRPC client's `inbox`
 * (the router's own types, so the view cannot drift from what the daemon serves). `list` gives the open
 * items and the event id to follow from, `events` what opens, is pushed and closes next, `answer` a choice.
 */
export type InboxClient = Pick<OrcClient['trpc']['inbox'], 'list' | 'answer' | 'events'>;
