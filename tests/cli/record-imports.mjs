// Loaded with `node --import`: records every module the process loads, one URL a line, in the file
// named by ORC_TEST_IMPORTS (cli-startup.test.ts reads it).
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const file = process.env.ORC_TEST_IMPORTS;
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => appendFileSync(file, `${url}\n`));
port1.unref();
register(
  `data:text/javascript,${encodeURIComponent(`
    let port;
    export function initialize(data) { port = data.port; }
    export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context);
      port.postMessage(resolved.url);
      return resolved;
    }
  `)}`,
  { data: { port: port2 }, transferList: [port2] },
);
