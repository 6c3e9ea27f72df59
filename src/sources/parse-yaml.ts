// YAML / JSON text -> plain documents, safe for untrusted input (a CI gate reads pull requests):
// - linear time: the yaml library's own duplicate-key check compares each new key with every earlier key of its
//   map (quadratic: a 1 MB map took 90 s), so it is off and the same rule is checked here with one Set per map;
// - alias bombs (`&a [*b, *b, ...]` nested) stop at MAX_ALIASES and become a finding, as does any other failure
//   to build the documents (deep nesting): one line, never a stack trace.
import { isMap, isScalar, LineCounter, parseAllDocuments, visit } from "yaml";

/** Aliases resolved per document; compose files share a few blocks with `<<: *anchor`, never thousands. */
export const MAX_ALIASES = 1000;

export type ParsedYaml =
  | { readonly docs: unknown[] }
  | { readonly error: { readonly line?: number; readonly message: string } };

export function parseYamlDocuments(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const line = (offset: number | undefined) => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  try {
    // `merge`: compose files share blocks with `<<: *anchor`.
    const parsed = parseAllDocuments(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: false });
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const doc of list) {
      const err = doc.errors[0];
      if (err) return { error: { line: line(err.pos[0]), message: `invalid YAML: ${firstLine(err.message)}` } };
      const duplicate = firstDuplicateKey(doc);
      if (duplicate) {
        const shown = /^[A-Za-z0-9_./-]{1,100}$/.test(duplicate.key) ? ` "${duplicate.key}"` : "";
        return { error: { line: line(duplicate.offset), message: `invalid YAML: duplicate key${shown} in a map` } };
      }
    }
    return { docs: list.map((d) => d.toJS({ maxAliasCount: MAX_ALIASES })) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/alias/i.test(message)) {
      return {
        error: { message: `invalid YAML: aliases expand to too much data (more than ${MAX_ALIASES}); refused` },
      };
    }
    if (err instanceof RangeError) return { error: { message: "invalid YAML: nested too deeply; refused" } };
    return { error: { message: "invalid YAML: the documents cannot be built" } };
  }
}

/** The first key that repeats within one map (YAML 1.2 forbids it; compose rejects it), in one pass. */
function firstDuplicateKey(doc: Parameters<typeof visit>[0]): { key: string; offset?: number } | undefined {
  let found: { key: string; offset?: number } | undefined;
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return undefined;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const value = pair.key.value;
        if (seen.has(value)) {
          found = { key: String(value), ...(pair.key.range ? { offset: pair.key.range[0] } : {}) };
          return visit.BREAK;
        }
        seen.add(value);
      }
      return undefined;
    },
  });
  return found;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
