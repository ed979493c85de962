/** One period's figures: the clinic's total and one entry per professional (member) id. */
export interface Side<F> {
  total: F;
  byProfessional: Map<string, F>;
}

export interface Pair<F> {
  current: Side<F>;
  previous: Side<F>;
}

/** Figures built from zero: `at(current, professionalId)` gives the entry to add to (null: the total). */
export function pairOf<F>(empty: () => F) {
  const make = (): Side<F> => ({ total: empty(), byProfessional: new Map() });
  const pair: Pair<F> = { current: make(), previous: make() };
  const at = (current: boolean, professionalId: string | null): F => {
    const side = current ? pair.current : pair.previous;
    if (professionalId === null) return side.total;
    let f = side.byProfessional.get(professionalId);
    if (!f) side.byProfessional.set(professionalId, (f = empty()));
    return f;
  };
  /** Each entry of both sides, the total included. */
  const each = (fn: (f: F, current: boolean, professionalId: string | null) => void) => {
    for (const current of [true, false]) {
      const side = current ? pair.current : pair.previous;
      fn(side.total, current, null);
      for (const [id, f] of side.byProfessional) fn(f, current, id);
    }
  };
  return { pair, at, each };
}
