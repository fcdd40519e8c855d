// Preloaded (node --import) into the real task-master CLI in tests: any connection to a host other than
// this machine fails at once and is written to $NO_NETWORK_LOG, so a test fails fast and says which host
// the CLI tried, instead of hanging on a network the test machines do not have. Covers fetch (undici),
// http(s) and raw sockets: all of them connect through net.Socket.
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const LOCAL = new Set(['127.0.0.1', 'localhost', '::1']);
const connect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === 'object' && first !== null ? first : { port: first, host: args[1] };
  const host = options.host ?? 'localhost';
  if (options.path !== undefined || LOCAL.has(host)) return connect.apply(this, args);
  const log = process.env.NO_NETWORK_LOG;
  if (log) appendFileSync(log, `${process.argv.slice(2).join(' ')} -> ${host}:${options.port}\n`);
  process.nextTick(() => this.destroy(new Error(`network disabled in tests: ${host}`)));
  return this;
};
