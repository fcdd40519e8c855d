import { killOrphanedProcesses } from './orphaned-processes.js';

/**
 * After the whole test run: no process a test started outlives it, even one started by a test body that
 * went on after its timeout and cleanup. Says which homes leaked, so the test that leaks can be found.
 */
export async function teardown(): Promise<void> {
  const homes = await killOrphanedProcesses();
  if (homes.length > 0)
    process.stderr.write(`killed processes left running by tests, in removed homes: ${homes.join(', ')}\n`);
}
