// Where each object of a file starts (1-based line), for formats that point at a line (SARIF): the key of a compose
// service, the first line of a manifest document. Keyed like the objects findings name (`service web`,
// `Deployment shop/web`). Reads the YAML syntax tree only: aliases are not expanded, so this costs what parsing does.
import { isMap, isScalar, LineCounter, parseAllDocuments, type YAMLMap } from "yaml";

const DEFAULT_NAMESPACE = "default";

export function objectLines(text: string, kind: "compose" | "kubernetes"): ReadonlyMap<string, number> {
  const lines = new Map<string, number>();
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, uniqueKeys: false });
  const lineOf = (offset: number) => counter.linePos(offset).line;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const root = doc.contents;
    if (!isMap(root)) continue;
    if (kind === "compose") {
      const services = root.get("services", true);
      if (!isMap(services)) continue;
      for (const pair of services.items) {
        if (isScalar(pair.key) && pair.key.range)
          lines.set(`service ${String(pair.key.value)}`, lineOf(pair.key.range[0]));
      }
    } else {
      const object = manifestObject(root);
      if (object && root.range && !lines.has(object)) lines.set(object, lineOf(root.range[0]));
    }
  }
  return lines;
}

function manifestObject(root: YAMLMap): string | undefined {
  const kind = root.get("kind");
  const metadata = root.get("metadata", true);
  if (typeof kind !== "string" || !isMap(metadata)) return undefined;
  const name = metadata.get("name");
  const namespace = metadata.get("namespace");
  if (typeof name !== "string") return undefined;
  return `${kind} ${typeof namespace === "string" && namespace !== "" ? namespace : DEFAULT_NAMESPACE}/${name}`;
}
