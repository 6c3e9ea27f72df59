// Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1G`), Docker/compose sizes (`512m`, `1gb`, `0.5` cpus)
// and IntOrString percentages (`25%`). Parsers return data: `{ ok: false, message }` is for the caller to place
// in a finding that names the file, object and field.
import type { IntOrPercent } from "../core/index.js";
import { MAX_CPU_MILLIS, MAX_MEMORY_BYTES } from "./bounds.js";
import { shownValue } from "./shown-value.js";

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(message: string): Parsed<T> => ({ ok: false, message });

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
// The quantity grammar of k8s.io/apimachinery: signed decimal, then a binary suffix, a decimal suffix or an exponent.
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/** A Kubernetes quantity as a plain number of base units (cores, bytes). */
export function parseKubeQuantity(raw: unknown): Parsed<number> {
  const text = typeof raw === "number" ? String(raw) : raw;
  if (typeof text !== "string") return fail(`must be a quantity such as 500m, 2, 512Mi or 1G, got ${describe(raw)}`);
  const m = QUANTITY.exec(text.trim());
  if (!m) return fail(`${shownValue(text)} is not a Kubernetes quantity (examples: 500m, 2, 512Mi, 2Gi, 1G)`);
  const n = Number(m[1]);
  const suffix = m[2] ?? "";
  const factor = BINARY[suffix] ?? DECIMAL[suffix] ?? 10 ** Number(suffix.slice(1));
  const value = n * factor;
  if (!Number.isFinite(value) || value < 0) return fail(`${shownValue(text)} must be a non-negative quantity`);
  return ok(value);
}

/** CPU in millicores, rounded up as Kubernetes does (the smallest CPU unit is 1m). */
export function parseCpuMillis(raw: unknown): Parsed<number> {
  const q = parseKubeQuantity(raw);
  return q.ok ? cpuWithin(Math.ceil(round9(q.value * 1000))) : q;
}

/** Memory in bytes, rounded up. */
export function parseMemoryBytes(raw: unknown): Parsed<number> {
  const q = parseKubeQuantity(raw);
  return q.ok ? memoryWithin(Math.ceil(round9(q.value))) : q;
}

function cpuWithin(millis: number): Parsed<number> {
  return millis <= MAX_CPU_MILLIS ? ok(millis) : fail(`must be at most ${MAX_CPU_MILLIS / 1000} CPUs`);
}

function memoryWithin(bytes: number): Parsed<number> {
  return bytes <= MAX_MEMORY_BYTES ? ok(bytes) : fail("must be at most 1Pi (1 PiB)");
}

/** Compose `cpus: 0.5` / `cpus: "1.5"`: a number of CPUs, as millicores. */
export function parseComposeCpus(raw: unknown): Parsed<number> {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) return fail(`must be a number of CPUs such as 0.5 or 2, got ${describe(raw)}`);
  return cpuWithin(Math.ceil(round9(n * 1000)));
}

// Compose byte values follow docker/go-units RAMInBytes: 1024-based, `b k m g t p` with an optional `i` and `b`.
const COMPOSE_BYTES = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const UNIT_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5 };

/** Compose `memory: 512M` / `mem_limit: 1gb` / a plain number of bytes. */
export function parseComposeBytes(raw: unknown): Parsed<number> {
  if (typeof raw === "number" && Number.isFinite(raw) && raw >= 0) return memoryWithin(Math.ceil(raw));
  if (typeof raw !== "string") return fail(`must be a size such as 512m or 2g, got ${describe(raw)}`);
  const m = COMPOSE_BYTES.exec(raw.trim());
  if (!m) return fail(`${shownValue(raw)} is not a size (examples: 512m, 1.5g, 2gb, 1073741824)`);
  const power = m[2] ? (UNIT_POWER[m[2].toLowerCase()] ?? 0) : 0;
  return memoryWithin(Math.ceil(Number(m[1]) * 1024 ** power));
}

/** A Kubernetes IntOrString such as `maxSurge: 1` or `maxSurge: "25%"`. */
export function parseIntOrPercent(raw: unknown): Parsed<IntOrPercent> {
  if (typeof raw === "number") {
    return Number.isInteger(raw) && raw >= 0
      ? ok({ kind: "int", value: raw })
      : fail(`must be a whole number >= 0 or a percentage such as "25%", got ${raw}`);
  }
  if (typeof raw === "string") {
    const m = /^(\d+)%$/.exec(raw.trim());
    if (m) return ok({ kind: "percent", value: Number(m[1]) });
  }
  return fail(`must be a whole number >= 0 or a percentage such as "25%", got ${describe(raw)}`);
}

/** A whole number written as a string (annotations, env values): digits only, no sign unless `allowNegative`. */
export function parseWholeNumber(raw: string, opts: { allowNegative?: boolean } = {}): number | undefined {
  const text = raw.trim();
  if (!(opts.allowNegative ? /^-?\d+$/ : /^\d+$/).test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function describe(raw: unknown): string {
  if (raw === undefined) return "nothing";
  if (raw === null) return "null";
  if (typeof raw === "string") return shownValue(raw);
  if (typeof raw === "number" || typeof raw === "boolean") return String(raw);
  return Array.isArray(raw) ? "a list" : "a map";
}

// 0.1 * 1000 = 100.00000000000001: trim float noise before rounding up.
function round9(n: number): number {
  return Math.round(n * 1e9) / 1e9;
}
