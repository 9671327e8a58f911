// Which node runs which actor. One node runs them all; a cluster answers from its placement
// table. Start-up recovery asks it, so a node only ever touches what it owns.
export interface Placement {
  owns(actorId: string): boolean;
}

export const singleNodePlacement: Placement = { owns: () => true };
