import { createClient } from '@orc/daemon/client';
import type { Command } from 'commander';
import { printJson } from './output.js';

/**
 * `orc metrics`: the daemon's Prometheus metrics, asked over its usual socket (no metrics port needed),
 * in the text format a scrape gets (a node_exporter textfile collector can take it as it is), or with
 * `--json` as data. A metric of a daemon that is not running means nothing, so none is started.
 */
export function registerMetricsCommand(program: Command): void {
  program
    .command('metrics')
    .description("print the daemon's Prometheus metrics (exits 5 when no daemon is running)")
    .option('--json', 'print one JSON document: every metric with its help, type and labelled values')
    .action(async (options: { json?: boolean }) => {
      const client = await createClient();
      try {
        if (options.json) {
          const answer = await client.trpc.daemon.metrics.query({ format: 'json' });
          if (answer.format === 'json') printJson(answer.metrics);
          return;
        }
        const answer = await client.trpc.daemon.metrics.query({ format: 'prometheus' });
        if (answer.format === 'prometheus') process.stdout.write(answer.text);
      } finally {
        await client.close();
      }
    });
}
