import { describe, expect, it } from 'vitest';
import { runBench } from './bench.js';
import { CASE_NAMES, formatTable } from './report.js';

// `npm test` runs the quick benchmark so the suite cannot rot: every case must still run end to end
// through a real daemon and produce sane figures. Targets are not asserted (a shared, noisy machine).
describe('npm run bench -- --quick', () => {
  it('produces the table with every case, finite figures, every task done and nothing lost', async () => {
    const report = await runBench({ quick: true });

    expect(report.cases.map((c) => c.name)).toEqual([...CASE_NAMES]);
    for (const result of report.cases) {
      expect(result.metrics.length, result.name).toBeGreaterThan(0);
      for (const metric of result.metrics) {
        expect(Number.isFinite(metric.value), `${result.name}: ${metric.label} = ${metric.value}`).toBe(true);
        expect(metric.value, `${result.name}: ${metric.label}`).toBeGreaterThanOrEqual(0);
      }
      expect(result.tasks.total, result.name).toBeGreaterThan(0);
      expect(result.tasks.done, `${result.name}: tasks done (${JSON.stringify(result)})`).toBe(
        result.tasks.total,
      );
      expect(result.tasks.failed, `${result.name}: tasks failed`).toBe(0);
      expect(result.lost, `${result.name}: results lost (${result.notes.join('; ')})`).toBe(0);
    }
    const table = formatTable(report);
    for (const name of CASE_NAMES) expect(table).toContain(`| ${name}`);
  }, 180_000);
});
