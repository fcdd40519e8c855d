#!/usr/bin/env node
// The `orc` command. It lives outside dist/ so npm can link it before the first build; the CLI itself
// is compiled TypeScript.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'orc: the CLI is not built yet; run npm run build in the claude-orchestrator repository\n',
  );
  process.exit(2);
}
await import(cli.href);
