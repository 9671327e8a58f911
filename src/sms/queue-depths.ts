import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { E164 } from '../schemas/views.js';

// The depths of the send queues of the whole cluster, for sender selection (DOMAIN.md "Sending":
// a new conversation goes to the least busy number). Each node runs the queues of the numbers it
// owns and reports their depths on the bus, coalesced: at most one report per `intervalMs`, and
// only after a change. A report is the node's whole picture (the numbers with anything waiting or
// in flight), so a number missing from it is idle, and a node that stops reporting numbers it gave
// up loses nothing. Every node keeps the latest report per number; a number that moved takes the
// depth its new owner reports. A lapsed node's reports are forgotten.

/** The bus subject of the reports, under the cluster's prefix. */
export const DEPTHS_SUBJECT = 'numdepth';

const Report = z.object({
  node: z.string().min(1).max(200),
  // [number, depth] pairs; a node runs at most the numbers of the pool.
  depths: z.array(z.tuple([E164, z.number().int().min(0)])).max(100_000),
});

export interface QueueDepthsOptions {
  bus: Bus;
  prefix: string;
  nodeId: string;
  clock: Clock;
  log: Logger;
  /** Longest a change waits before it is reported (and the shortest spacing of two reports). */
  intervalMs: number;
  /** This node's queues: number → depth, the numbers it runs now. */
  local: () => Iterable<[string, number]>;
}

export class QueueDepths {
  /** The latest reported depth of each number another node runs, with the node that reported it. */
  private readonly reported = new Map<string, { node: string; depth: number }>();
  private timer: TimerHandle | null = null;
  private readonly off: Unsubscribe;

  constructor(private readonly o: QueueDepthsOptions) {
    this.off = o.bus.subscribe(`${o.prefix}.${DEPTHS_SUBJECT}`, (payload) => this.receive(payload));
  }

  /** A depth of this node's changed: reported within `intervalMs`, with whatever else changed by then. */
  changed(): void {
    if (this.timer) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.publish();
    }, this.o.intervalMs);
  }

  /** The depth another node last reported for the number (0 when nobody reported it busy). */
  depth(number: string): number {
    return this.reported.get(number)?.depth ?? 0;
  }

  /** A node lost its lease: its queues stopped, and the nodes taking its numbers report them. */
  forget(node: string): void {
    for (const [number, r] of this.reported) if (r.node === node) this.reported.delete(number);
  }

  stop(): void {
    this.off();
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private publish(): void {
    const depths = [...this.o.local()].filter(([, d]) => d > 0);
    try {
      this.o.bus.publish(`${this.o.prefix}.${DEPTHS_SUBJECT}`, { node: this.o.nodeId, depths });
    } catch (err) {
      // The picture is only a guide for sender selection; the next change reports again.
      this.o.log.warn({ err }, 'could not report the send queue depths');
    }
  }

  private receive(payload: unknown): void {
    const parsed = Report.safeParse(payload);
    if (!parsed.success) {
      this.o.log.warn({ issues: parsed.error.issues.slice(0, 3) }, 'ignored a malformed queue depth report');
      return;
    }
    const { node, depths } = parsed.data;
    if (node === this.o.nodeId) return;
    const now = new Map(depths);
    for (const [number, r] of this.reported) if (r.node === node && !now.has(number)) this.reported.delete(number);
    for (const [number, depth] of now) this.reported.set(number, { node, depth });
  }
}
