// Other clients come and go; a brief dip in their connections must not inflate the budget.
// The shells keep recent samples; the planner uses the highest of them.

/** Highest sample within the window ending at `now` (ms); `undefined` when no sample is that recent. */
export function smoothedUnmanaged(
  samples: readonly { readonly at: number; readonly value: number }[],
  now: number,
  windowMs: number,
): number | undefined {
  let max: number | undefined;
  for (const s of samples) {
    if (s.at > now - windowMs && s.at <= now && (max === undefined || s.value > max)) max = s.value;
  }
  return max;
}
