import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PlacementUnavailable, type Placement } from '../../src/actors-runtime/placement.js';

// The one contract every Placement passes (src/actors-runtime/placement.ts is the spec). A harness
// starts "nodes" that share one placement table; `pause` makes a node's clock jump past its lease
// (what SIGSTOP does to a process) without waiting, and `crash` stops its renewals the way a
// killed process does (its lease stays in the table until it lapses).

export interface PlacementNode {
  placement: Placement;
  /** The node's monotonic clock jumps past its lease, as when the process was stopped that long. */
  pause(): void;
  /** Renewals stop as in a killed process; the table keeps its lease until it lapses. */
  crash(): Promise<void>;
}

export interface PlacementHarness {
  /** Whether more than one node can share the table (not so for the single-node placement). */
  multiNode: boolean;
  start(nodeId: string): Promise<PlacementNode>;
}

const DEADLINE_MS = 10_000;

/** Resolves once `p` sees node `nodeId`'s lease lapse, or fails at the deadline. */
function lapseOf(p: Placement, nodeId: string, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}`));
    }, DEADLINE_MS);
    const off = p.onNodeLapsed((node) => {
      if (node !== nodeId) return;
      clearTimeout(timer);
      off();
      resolve(node);
    });
  });
}

export function placementContract(name: string, harness: () => PlacementHarness): void {
  describe(`Placement contract: ${name}`, () => {
    const started: PlacementNode[] = [];
    const node = async (label: string) => {
      const n = await harness().start(`${label}-${randomBytes(3).toString('hex')}`);
      started.push(n);
      return n;
    };
    // Unique per test: tests sharing a table never see each other's actors.
    const actor = () => `a${randomBytes(6).toString('hex')}`;
    afterEach(async () => {
      await Promise.all(started.splice(0).map((n) => n.placement.stop()));
    });

    it('places an unowned actor on the node that resolves it first, which then owns it', async () => {
      const a = await node('a');
      const id = actor();
      // One node owns everything from the start; in a cluster nobody owns an actor before it is placed.
      if (harness().multiNode) expect(a.placement.owns('conversation', id)).toBe(false);
      expect(await a.placement.resolve('conversation', id)).toBe(a.placement.nodeId);
      expect(a.placement.owns('conversation', id)).toBe(true);
      expect(a.placement.live).toBe(true);
      expect(await a.placement.liveNodes()).toContain(a.placement.nodeId);
    });

    it('keeps actors of different kinds apart', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      expect(await a.placement.resolve('conversation', id)).toBe(a.placement.nodeId);
      expect(await b.placement.resolve('number', id)).toBe(b.placement.nodeId);
      expect(a.placement.owns('number', id)).toBe(false);
    });

    it('lets exactly one of two nodes racing for an unowned actor win it', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      for (let round = 0; round < 5; round++) {
        const id = actor();
        const [fromA, fromB] = await Promise.all([a.placement.resolve('conversation', id), b.placement.resolve('conversation', id)]);
        expect(fromA).toBe(fromB);
        expect([a, b].filter((n) => n.placement.owns('conversation', id))).toHaveLength(1);
      }
    });

    it("takes a crashed owner's actor over only once the owner's lease has lapsed", async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      await a.placement.resolve('conversation', id);
      await a.crash();
      const lapsed = lapseOf(b.placement, a.placement.nodeId, "the crashed node's lease to lapse");
      // Its lease is still in the table: the actor stays where it is.
      expect(await b.placement.resolve('conversation', id)).toBe(a.placement.nodeId);
      expect(b.placement.owns('conversation', id)).toBe(false);
      expect(await lapsed).toBe(a.placement.nodeId);
      expect(await b.placement.resolve('conversation', id)).toBe(b.placement.nodeId);
      expect(b.placement.owns('conversation', id)).toBe(true);
      expect(await b.placement.liveNodes()).not.toContain(a.placement.nodeId);
    });

    it('gives the actors of a node that stops cleanly to the others at once, without waiting for its lease', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      await a.placement.resolve('conversation', id);
      await a.placement.stop();
      expect(await b.placement.resolve('conversation', id)).toBe(b.placement.nodeId);
      expect(await b.placement.liveNodes()).not.toContain(a.placement.nodeId);
    });

    it('refuses the stale claim of the slower of two nodes taking over one lapsed actor', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      const c = await node('c');
      const ids = [actor(), actor(), actor()];
      for (const id of ids) await a.placement.resolve('conversation', id);
      // On a loaded machine a short lease can lapse between two renewals, also while the crashed
      // node's lapses; a node that lost its lease rightly gives its claims up and refuses to claim
      // (PlacementUnavailable) until it has a new one, so the answers are compared only while both
      // held, counted from before the crash.
      let leasesLost = 0;
      for (const n of [b, c]) n.placement.onLeaseLost(() => leasesLost++);
      const lapsed = lapseOf(b.placement, a.placement.nodeId, "the crashed node's lease to lapse");
      await a.crash();
      await lapsed;
      for (const id of ids) {
        const answers = await Promise.allSettled([b.placement.resolve('conversation', id), c.placement.resolve('conversation', id)]);
        const owners = [b, c].filter((n) => n.placement.owns('conversation', id));
        expect(owners.length).toBeLessThanOrEqual(1);
        if (leasesLost > 0) {
          for (const r of answers) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PlacementUnavailable);
          continue;
        }
        const [fromB, fromC] = answers.map((r) => (r.status === 'fulfilled' ? r.value : `refused: ${String(r.reason)}`));
        expect(fromB).toBe(fromC);
        expect(owners).toHaveLength(1);
      }
    });

    it('owns nothing and claims nothing once its lease ran out (paused past it), and says so at once', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const id = actor();
      await a.placement.resolve('conversation', id);
      let lost = 0;
      a.placement.onLeaseLost(() => lost++);
      a.pause();
      expect(a.placement.owns('conversation', id)).toBe(false);
      expect(a.placement.live).toBe(false);
      expect(lost).toBe(1);
      await expect(a.placement.resolve('conversation', actor())).rejects.toBeInstanceOf(PlacementUnavailable);
    });

    it('gives a paused owner\'s actor to another node once its lease lapsed, and the old owner never gets it back by itself', async () => {
      if (!harness().multiNode) return;
      const a = await node('a');
      const b = await node('b');
      const id = actor();
      await a.placement.resolve('conversation', id);
      const lapsed = lapseOf(b.placement, a.placement.nodeId, "the paused node's lease to lapse");
      a.pause();
      await lapsed;
      expect(await b.placement.resolve('conversation', id)).toBe(b.placement.nodeId);
      // Whatever the old owner does now, the actor stays with the node that took it.
      await expect(a.placement.resolve('conversation', id).catch(() => b.placement.nodeId)).resolves.toBe(b.placement.nodeId);
      expect(a.placement.owns('conversation', id)).toBe(false);
      expect(b.placement.owns('conversation', id)).toBe(true);
    });
  });
}
