/** Chooses the server for a new agent: the least-loaded one, or the next in turn. */

export type PlacementStrategy = "least-loaded" | "round-robin";
export const PLACEMENT_STRATEGIES: readonly PlacementStrategy[] = ["least-loaded", "round-robin"];

export interface PlacementCandidate {
  /** Stable identity (the endpoint), for a stable order. */
  readonly endpoint: string;
  /** Estimated load 0..1 (active agents / max agents); null when unknown. */
  readonly load: number | null;
}

export class Placement {
  private turn = 0;

  constructor(readonly strategy: PlacementStrategy) {}

  /** Picks one candidate; throws on an empty list (callers check first). */
  choose<T extends PlacementCandidate>(candidates: readonly T[]): T {
    if (candidates.length === 0) throw new RangeError("no candidates to place on");
    const ordered = [...candidates].sort((a, b) => a.endpoint.localeCompare(b.endpoint));
    const turn = this.turn++;
    if (this.strategy === "round-robin") return ordered[turn % ordered.length]!;
    // Unknown load counts as idle; equal loads take turns so a burst spreads out.
    const loadOf = (c: T) => c.load ?? 0;
    const lowest = Math.min(...ordered.map(loadOf));
    const best = ordered.filter((c) => loadOf(c) - lowest < 1e-9);
    return best[turn % best.length]!;
  }
}
