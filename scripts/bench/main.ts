import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { runBench } from './bench.js';
import { CASE_NAMES, formatTable, type CaseName } from './report.js';

const USAGE = `usage: npm run bench -- [--quick] [--json FILE] [--only CASE,CASE] [--keep] [--profile DIR]
cases: ${CASE_NAMES.join(', ')}`;

/** `npm run bench`: runs the cases through a real daemon and prints one table. */
async function main(argv: string[]): Promise<number> {
  let quick = false;
  let keep = false;
  let json: string | undefined;
  let only: CaseName[] | undefined;
  let profileDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--json') json = argv[++i];
    else if (arg === '--only') only = parseOnly(argv[++i]);
    else if (arg === '--profile') profileDir = resolve(argv[++i] ?? 'bench-profiles');
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      process.stderr.write(`bench: unknown argument ${arg}\n${USAGE}\n`);
      return 2;
    }
  }
  if (json === '') json = undefined;
  const report = await runBench({
    quick,
    keep,
    ...(only && { only }),
    ...(profileDir !== undefined && { profileDir }),
    log: (line) => process.stderr.write(`bench: ${line}\n`),
  });
  process.stdout.write(`${formatTable(report)}\n`);
  for (const result of report.cases) {
    for (const note of result.notes) process.stdout.write(`  ${result.name}: ${note}\n`);
  }
  if (json !== undefined) {
    writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`figures written to ${json}\n`);
  }
  return 0;
}

function parseOnly(value: string | undefined): CaseName[] {
  const names = (value ?? '').split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(CASE_NAMES as readonly string[]).includes(name))
      throw new Error(`--only: no case "${name}"; the cases are ${CASE_NAMES.join(', ')}`);
  }
  return names as CaseName[];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
