// Allocation: give every process a per-process cap so that each bound (server, account) holds at peak.
//
// Progressive filling: everyone starts at 1 connection per process; then, in order of the lowest
// cap per unit of weight (ties by id, so the result is deterministic), a workload's cap grows by one
// while every bound it counts against has room for `processes` more connections and it is below the
// cap the sizing table asks for. A workload that does not fit once never fits later (room only shrinks),
// so it leaves the queue. Caps are integers throughout: rounding is always down.

export interface Demand {
  readonly id: string;
  readonly processes: number;
  readonly desiredCap: number;
  readonly weight: number;
  /** Indexes into the bounds this workload counts against. */
  readonly bounds: readonly number[];
}

export type Allocation =
  | { readonly feasible: true; readonly caps: ReadonlyMap<string, number>; readonly used: readonly number[] }
  | { readonly feasible: false; readonly overBounds: readonly { bound: number; needed: number }[] };

export function allocate(demands: readonly Demand[], capacity: readonly number[]): Allocation {
  const used = capacity.map(() => 0);
  for (const d of demands) for (const b of d.bounds) used[b] = (used[b] ?? 0) + d.processes;
  const overBounds = used
    .map((needed, bound) => ({ bound, needed }))
    .filter(({ bound, needed }) => needed > (capacity[bound] ?? 0));
  if (overBounds.length > 0) return { feasible: false, overBounds };

  const caps = new Map<string, number>();
  const heap = new MinHeap<{ d: Demand; cap: number }>((a, b) => {
    const ka = (a.cap + 1) / a.d.weight;
    const kb = (b.cap + 1) / b.d.weight;
    return ka !== kb ? ka < kb : a.d.id < b.d.id;
  });
  for (const d of demands) {
    caps.set(d.id, 1);
    if (d.desiredCap > 1 && d.processes > 0) heap.push({ d, cap: 1 });
    // A workload with no processes costs nothing: it gets the table's cap outright.
    if (d.processes === 0) caps.set(d.id, Math.max(1, d.desiredCap));
  }
  for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
    const { d } = top;
    if (!d.bounds.every((b) => (used[b] ?? 0) + d.processes <= (capacity[b] ?? 0))) continue;
    for (const b of d.bounds) used[b] = (used[b] ?? 0) + d.processes;
    const cap = top.cap + 1;
    caps.set(d.id, cap);
    if (cap < d.desiredCap) heap.push({ d, cap });
  }
  return { feasible: true, caps, used };
}

/** A plain binary min-heap; `less` decides the order. */
class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(a[i] as T, a[parent] as T)) break;
      [a[i], a[parent]] = [a[parent] as T, a[i] as T];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l] as T, a[m] as T)) m = l;
      if (r < a.length && this.less(a[r] as T, a[m] as T)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] as T, a[i] as T];
      i = m;
    }
    return top;
  }
}
