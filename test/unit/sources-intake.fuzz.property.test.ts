// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are compose/shell `${VAR}` syntax, on purpose
// Fuzzed label and annotation maps through the real intake (issue 10): compose labels (map and list form, through
// readCompose with its interpolation) and Kubernetes annotations (through readManifests), 10,000 maps each.
// Whatever the map holds — every option key with good, bad and odd values, near-miss and hostile keys, numbers,
// booleans, nulls, nested objects, control characters, `${...}` — the intake never throws, every finding is one
// clear line that names the object and field, a value planted as a secret is never printed, and an enabled
// workload that is not planned always comes with an error saying why.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPTION_KEYS, PREFIX } from "../../src/sources/annotations.js";
import { readCompose } from "../../src/sources/compose.js";
import { formatSourceFinding, type SourceResult } from "../../src/sources/findings.js";
import { readManifests } from "../../src/sources/manifests.js";

const RUNS = 10_000;
const SECRET = "S3CRET";

// Values: what each key accepts, near misses, and anything a YAML file or a label can carry.
const goodValue = fc.constantFrom(
  "true",
  "false",
  " TRUE ",
  "lineage",
  "web",
  "LINEAGE_DB_POOL_SIZE",
  "DB_MAX_OVERFLOW",
  "GUNICORN_WORKERS",
  "4",
  "0",
  "2.5",
  "auto",
  "off",
  "app_user",
);
const oddString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "\n", "\t\r", "-1", "1e9", "NaN", "Infinity", "0x10", "4.", ".5", "99999999999999999999"),
  fc.constantFrom("${X}", "${X:?x is required}", "$${X}", "${", "$", "${X:-4}", "\u0000", "\u202e", "💥"),
  fc.string({ minLength: 200, maxLength: 3000 }),
);
// Planted secrets, shaped so that no key accepts them (a space, a URL): never printed, whatever key they sit under.
// (A valid value such as an env var name or an account name is not a secret and may be shown.)
const secretValue = fc
  .tuple(
    fc.constantFrom("mysql://u:", "pw ", "token "),
    fc.integer({ min: 0x1000, max: 0xffffff }).map((n) => n.toString(16)),
    fc.constantFrom("@db:3306/x", " ", " end"),
  )
  .map(([pre, hex, post]) => `${pre}${SECRET}${hex}${post}`);
const nonString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);
const anyValue = fc.oneof(
  { arbitrary: goodValue, weight: 4 },
  { arbitrary: oddString, weight: 3 },
  { arbitrary: secretValue, weight: 2 },
  { arbitrary: nonString, weight: 1 },
);

// Keys: the option keys, near misses, pooltuner's own status keys, hostile names, other prefixes.
function keys(prefix: string): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...OPTION_KEYS).map((k) => `${prefix}${k}`), weight: 6 },
    {
      arbitrary: fc.constantFrom("enable", "databse", "pool-size", "workers_env", "Weight", "status", "last-x", ""),
      weight: 2,
    },
    { arbitrary: fc.string({ maxLength: 30 }).map((k) => `${prefix}${k}`), weight: 1 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 30 }).map((k) => `${prefix}${k}`), weight: 1 },
    { arbitrary: fc.string({ minLength: 150, maxLength: 600 }).map((k) => `${prefix}${k}`), weight: 1 },
    { arbitrary: fc.constantFrom("__proto__", "constructor", "app.kubernetes.io/name", "com.docker.x"), weight: 1 },
    { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
  );
}
const labelMap = (prefix: string) => fc.dictionary(keys(prefix), anyValue, { maxKeys: 12 });

/** Independently of the parser: does this map opt the workload in? */
function optedIn(map: Readonly<Record<string, unknown>>, prefix: string): boolean {
  const v = map[`${prefix}enabled`];
  return (typeof v === "string" || typeof v === "boolean") && String(v).trim().toLowerCase() === "true";
}

/** The checks every intake result must pass. */
function checkResult(r: SourceResult, object: string, enabled: boolean): void {
  for (const f of [...r.errors, ...r.warnings]) {
    const line = formatSourceFinding(f);
    expect(line.length, line).toBeGreaterThan(0);
    // Short enough to read: a long key is cut, a long value described (the file path is the test's own).
    expect(line.length - (f.file?.length ?? 0), line).toBeLessThan(700);
    // One line: no newline or other control character a log line or a terminal would act on.
    expect(/[\p{Cc}\u2028\u2029]/u.test(line), JSON.stringify(line)).toBe(false);
    expect(f.message.trim(), line).not.toBe("");
    expect(line, line).not.toMatch(/\bat .*\(.*:\d+:\d+\)|TypeError|ReferenceError|undefined is not|\[object Object\]/);
    expect(line.includes(SECRET), line).toBe(false);
    if (f.object !== undefined) expect(f.object).toBe(object);
  }
  if (enabled && r.workloads.length === 0) {
    expect(
      r.errors.some((e) => e.object === object),
      `enabled, not planned, and no error says why: ${JSON.stringify(r.errors)}`,
    ).toBe(true);
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-intake-fuzz-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe(`intake of fuzzed labels and annotations (${RUNS} maps each)`, () => {
  it("compose labels, as a map or a `key=value` list, through readCompose", async () => {
    const D = PREFIX.docker;
    await fc.assert(
      fc.asyncProperty(labelMap(D), fc.boolean(), async (labels, asList) => {
        const raw = asList ? Object.entries(labels).map(([k, v]) => (typeof v === "string" ? `${k}=${v}` : v)) : labels;
        const data = {
          services: {
            app: {
              image: "lineage",
              labels: raw,
              command: "gunicorn -w 4 app:app",
              environment: { DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "3" },
            },
          },
        };
        const r = await readCompose({ file: join(dir, "compose.yaml"), data, environment: {} });
        checkResult(r, "service app", !asList && optedIn(labels, D));
      }),
      { numRuns: RUNS, seed: 10_010 },
    );
  });

  it("Kubernetes annotations through readManifests", () => {
    const K = PREFIX.kubernetes;
    fc.assert(
      fc.property(labelMap(K), (annotations) => {
        const deployment = {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "web", namespace: "shop", annotations },
          spec: {
            replicas: 2,
            template: {
              spec: {
                containers: [
                  {
                    name: "web",
                    command: ["gunicorn", "-w", "4", "app:app"],
                    env: [
                      { name: "DB_POOL_SIZE", value: "2" },
                      { name: "DB_MAX_OVERFLOW", value: "3" },
                    ],
                  },
                ],
              },
            },
          },
        };
        const r = readManifests([{ file: "web.yaml", docs: [deployment] }]);
        checkResult(r, "Deployment shop/web", optedIn(annotations, K));
      }),
      { numRuns: RUNS, seed: 10_011 },
    );
  });
});
