import type { OrcClient } from '@orc/daemon/client';
import type { InboxClient } from './inbox-client.js';

type Procedures = OrcClient['trpc'];

/**
 * What the attach screen needs of the daemon: the procedures it calls, picked from the typed tRPC
 * client (the router's own types, so the screen cannot drift from what the daemon serves), and news of
 * the connection. The CLI gives it its client; the demo a client of a daemon it runs in process.
 * Actions resolve once the daemon accepted them; their effect reaches the screen through the events.
 */
export interface AttachClient {
  trpc: {
    runs: Pick<Procedures['runs'], 'list' | 'get' | 'eventBatches' | 'pause' | 'resume' | 'cancel'>;
    tasks: Pick<Procedures['tasks'], 'get' | 'page' | 'retry' | 'skip' | 'cancel'>;
    checkpoints: Pick<Procedures['checkpoints'], 'create' | 'list' | 'rollback'>;
    /** A person's rating of a task (`f`). */
    feedback: Pick<Procedures['feedback'], 'add'>;
    /** The daemon's inbox, for the header's count and the `i` panel. */
    inbox: InboxClient;
    /** The Redis backend's workers, for a line of the header (none: not shown). */
    daemon?: Pick<Procedures['daemon'], 'workers'>;
  };
  /**
   * Tells when the link to the daemon drops and when it is back; the client reconnects by itself and
   * its calls wait meanwhile. Without it a lost stream is noticed by its error. `startDaemon` starts the
   * daemon when none answers, as an `orc` command does, resolving with what it did to say (undefined when
   * one answered); without it (the demo's daemon in process) the screen only waits.
   */
  connection?: {
    /** `stopped`: the link dropped because the daemon was stopped on purpose (not to be started again). */
    watch(onChange: (connected: boolean, stopped: boolean) => void): () => void;
    startDaemon?: () => Promise<string | undefined>;
  };
}
