// Which node runs which actor. Actors are named by a kind (`conversation`, `number`, …) and an id;
// each runs on at most one node at a time in normal operation, the node that holds its claim. A
// node holds claims only while its own lease is live: a node that cannot renew its lease stops
// every actor at once and claims nothing until it has a lease again, and another node may then
// take its actors over. Start-up recovery and adoption ask placement, so a node only ever touches
// what it owns. The store's owner epochs remain the final judge (two nodes that briefly both run
// an actor cannot both commit): placement keeps that rare, fencing keeps it harmless.
//
// One node runs everything (`singleNodePlacement`); a cluster places through a replicated NATS KV
// bucket (kv-placement.ts). Both pass test/contract/placement.contract.ts.

export type Unsubscribe = () => void;

export interface Placement {
  /** This node's id (as in NODE_ID). */
  readonly nodeId: string;
  /**
   * Whether this node may run the actor now: it claimed it under its current lease and that lease
   * is live. A local answer, no I/O: asked before every command an owner serves.
   */
  owns(kind: string, actorId: string): boolean;
  /**
   * The node that runs the actor: its owner while that owner's lease is live; otherwise this node,
   * which claims it (an unowned actor with create, a lapsed owner's with a compare-and-set on the
   * claim's revision). Throws PlacementUnavailable when placement cannot be read or this node has
   * no lease to claim with.
   */
  resolve(kind: string, actorId: string): Promise<string>;
  /** The nodes whose lease is live now. */
  liveNodes(): Promise<Set<string>>;
  /** Whether this node's lease is live now (measured on a monotonic clock). */
  readonly live: boolean;
  /** Runs `listener` each time this node loses its lease: every actor it runs must stop at once. */
  onLeaseLost(listener: () => void): Unsubscribe;
  /** Runs `listener` with the id of each node seen to lose its lease (its actors may need adopting). */
  onNodeLapsed(listener: (nodeId: string) => void): Unsubscribe;
  /** Stops renewing the lease (its claims lapse with it). */
  stop(): Promise<void>;
}

/** Placement could not answer (NATS unreachable, or this node has no lease to claim with). */
export class PlacementUnavailable extends Error {
  override name = 'PlacementUnavailable';
}

/** The one node of a single-node deployment: owns every actor, always. */
export function singleNodePlacement(nodeId = 'local'): Placement {
  return {
    nodeId,
    owns: () => true,
    resolve: () => Promise.resolve(nodeId),
    liveNodes: () => Promise.resolve(new Set([nodeId])),
    live: true,
    onLeaseLost: () => () => undefined,
    onNodeLapsed: () => () => undefined,
    stop: () => Promise.resolve(),
  };
}
