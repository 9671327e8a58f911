import { notFound } from '../errors.js';
import { NotOwner, Passivated, type ActorSelf } from './actor-host.js';

// Fencing for actors whose activations write to the store (a conversation's lock, a campaign):
// every activation claims the next owner epoch, durably, before its first effect, and every write
// it makes afterwards is conditional on that epoch in the store. An older activation (a paused or
// partitioned node that placement already replaced, a node forced to activate twice) then commits
// nothing. The store keeps the epoch per actor (LockRepo.claimEpoch, CampaignRepo.claimEpoch).

/** One actor's epochs in the store. */
export interface OwnerEpochs<Claimed> {
  /** The epoch claimed last; null when the actor does not exist. */
  current(): Promise<number | null>;
  /** Claims `expected` + 1 when `expected` is still the current epoch; null when another activation claimed first. */
  claim(expected: number): Promise<Claimed | null>;
}

/**
 * Claims the activation's epoch: only while placement still gives this node the actor (asked right
 * before the claim, so a node that is not the owner never fences the owner off). Throws NotOwner
 * when it does not, Passivated when another activation claimed first (the command retries).
 */
export async function claimOwnerEpoch<Claimed>(self: ActorSelf, what: string, epochs: OwnerEpochs<Claimed>): Promise<Claimed> {
  const before = await epochs.current();
  if (before === null) throw notFound(what);
  if (!self.owned()) throw new NotOwner(`this node no longer owns ${what.toLowerCase()} ${self.id}`);
  const claimed = await epochs.claim(before);
  if (claimed === null) throw new Passivated();
  return claimed;
}
