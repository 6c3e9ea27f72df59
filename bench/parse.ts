// Parsing untrusted YAML must be linear: a compose file whose `environment:` map holds tens of thousands of keys,
// at 1, 2, 4 and 8 MB, read the way `pooltuner plan` reads it (parse + duplicate-key check + toJS, then the whole
// loadSources path). The yaml library's own duplicate-key check is quadratic (90 s for 1 MB here); run with
// `-- --library-check` to time it too for 1 MB only (it takes minutes). Prints numbers; asserts nothing.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseAllDocuments } from "yaml";
import { loadSources } from "../src/sources/load.js";
import { parseYamlDocuments } from "../src/sources/parse-yaml.js";

const SIZES_MB = [1, 2, 4, 8];

function composeText(bytes: number): { text: string; keys: number } {
  const head =
    'services:\n  web:\n    image: x\n    labels: { io.pooltuner.enabled: "true", io.pooltuner.workers: "2" }\n    environment:\n';
  const lines: string[] = [head];
  let length = head.length;
  let keys = 0;
  while (length < bytes) {
    const line = `      K${keys}: v${keys}\n`;
    lines.push(line);
    length += line.length;
    keys++;
  }
  return { text: lines.join(""), keys };
}

const time = (f: () => unknown): number => {
  const t = performance.now();
  f();
  return performance.now() - t;
};

const dir = await mkdtemp(join(tmpdir(), "pooltuner-bench-parse-"));
try {
  console.log("size  keys      parse+check+toJS  loadSources (read, parse, compose)  ms per MB");
  for (const mb of SIZES_MB) {
    const { text, keys } = composeText(mb * 1024 * 1024);
    const file = join(dir, `compose-${mb}mb.yml`);
    await writeFile(file, text);
    parseYamlDocuments(text.slice(0, 10_000)); // warm-up
    const parse = time(() => parseYamlDocuments(text));
    const t = performance.now();
    const loaded = await loadSources([file], { environment: {}, maxFileBytes: 16 * 1024 * 1024 });
    const load = performance.now() - t;
    if (loaded.errors.length > 0 || loaded.workloads.length !== 1) throw new Error("bench input did not load");
    console.log(
      `${`${mb} MB`.padEnd(6)}${String(keys).padEnd(10)}${`${parse.toFixed(0)} ms`.padEnd(18)}${`${load.toFixed(0)} ms`.padEnd(37)}${(load / mb).toFixed(0)}`,
    );
  }
  if (process.argv.includes("--library-check")) {
    const { text } = composeText(1024 * 1024);
    const ms = time(() => parseAllDocuments(text, { merge: true }));
    console.log(`1 MB with the yaml library's own uniqueKeys check (the quadratic one): ${ms.toFixed(0)} ms`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
