#!/usr/bin/env node
/**
 * The attach screen on a simulated in-memory run, no daemon needed:
 *   node packages/tui/dist/screen/demo.js [tasks] [workers] [stepMs]
 * Set ORC_DEMO_OUTAGE_MS to cut the "daemon" off for that long, five seconds in.
 */
import { DemoRunSource } from './demo-source.js';
import { attachScreen } from './screen.js';

const [tasks = '40', workers = '3', stepMs = '150'] = process.argv.slice(2);
const source = new DemoRunSource('demo-run', {
  tasks: Number(tasks),
  workers: Number(workers),
  stepMs: Number(stepMs),
});
const outage = Number(process.env.ORC_DEMO_OUTAGE_MS ?? 0);
if (outage > 0) setTimeout(() => source.outage(outage), 5000).unref();
const result = await attachScreen(source, 'demo-run', {
  reattachCommand: () => 'node packages/tui/dist/screen/demo.js',
});
source.close();
process.exitCode = result.outcome === 'interrupted' ? 130 : 0;
