/**
 * A histogram's observations made before its prom-client instrument exists (the registry is made at the
 * first read, or once the daemon serves: see DaemonMetrics.load): kept, then handed over, and from then
 * on passed straight through.
 */
export class Observations {
  private held: [value: number, label: string | undefined][] = [];
  private target: ((value: number, label: string | undefined) => void) | undefined;

  observe(value: number, label?: string): void {
    if (this.target) this.target(value, label);
    else this.held.push([value, label]);
  }

  attach(target: (value: number, label: string | undefined) => void): void {
    for (const [value, label] of this.held) target(value, label);
    this.held = [];
    this.target = target;
  }
}
