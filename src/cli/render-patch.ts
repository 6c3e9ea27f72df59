// `-o patch`: the recommended pool values as text a person commits (the GitOps path: a pull request, no live write).
// Kubernetes manifests: one kustomize strategic-merge patch per planned workload, as a multi-document YAML stream,
// each document headed by `# file: <manifest>`. Workloads whose values stay are included too (marked `none`): the
// output is then the whole desired state, so a job can overwrite the committed file with a fresh run (even one that
// reads the manifests rendered with the old patch) without dropping values it set before. The container's `env` list merges by name, so a patch sets
// only the profile's variables (SQLAlchemy's two pool variables by default). A variable that comes from a ConfigMap or Secret is not patched in `env` (that would
// hide the ConfigMap's value from whoever edits it next): a comment says where to set it instead.
// Workloads rendered from a Helm chart whose env comes from values (`pooltuner.io/helm-values`): one values fragment
// for `helm upgrade -f` instead (render-helm.ts).
// Compose services: `KEY=VALUE` lines under a comment header naming the service and where each variable is set now.
import { stringify } from "yaml";
import { envValues } from "../core/index.js";
import { CliError } from "./exit.js";
import { type Change, comment, summary } from "./patch-common.js";
import { helmFragment } from "./render-helm.js";
import type { Report } from "./report.js";

export function renderPatch(r: Report): string {
  const flavors = new Set(r.workloads.map((w) => w.flavor));
  if (flavors.size > 1) {
    throw new CliError("bad-input", [
      "-o patch: plan Kubernetes manifests and compose files in separate runs (one prints YAML patches, the other .env lines)",
    ]);
  }
  const notes: string[] = [];
  const changes: Change[] = [];
  for (const p of r.plan.workloads) {
    const loaded = r.workloads.find((w) => w.workload.id === p.id);
    if (!loaded) continue;
    // No safe values (infeasible, unknown workers or database): the current values are kept, so a job that
    // overwrites the committed file from the deployed manifests does not drop what an earlier run set.
    const settings = p.recommended ?? (p.current.assumed ? undefined : p.current.settings);
    if (!settings) {
      notes.push(comment(`${loaded.object}: no safe values to set and none set today (see \`pooltuner plan\`)`));
      continue;
    }
    // The profile's own variables (SQLAlchemy's pair, Hikari's maximumPoolSize, ...), as the daemons would write them.
    const env = p.recommended ? p.recommended.env : envValues(p.writes, settings);
    const values = env.map((e) => [e.name, e.value] as const);
    changes.push({ loaded, plan: p, values });
  }
  const kube = flavors.has("kubernetes");
  // Rendered from a Helm chart (`pooltuner.io/helm-values`): one values fragment instead of kustomize patches.
  const fromHelm = r.workloads.filter((w) => w.options.helmValues !== undefined);
  if (kube && fromHelm.length > 0) {
    const plain = r.workloads.find((w) => w.options.helmValues === undefined);
    if (plain) {
      throw new CliError("bad-input", [
        `-o patch: ${fromHelm[0]?.object} takes its env from Helm values (pooltuner.io/helm-values) and ${plain.object} does not: plan them in separate runs (one prints a Helm values fragment, the other kustomize patches), or annotate ${plain.object} too`,
      ]);
    }
    return helmFragment(changes, notes, r.helmValues);
  }
  const head = kube
    ? "# pooltuner: kustomize strategic-merge patches, one document per planned workload (list this file under `patches:`)"
    : "# pooltuner: the pool settings to write into each service's env file (KEY=VALUE lines)";
  const body = changes.map((c) => (kube ? kubeDocument(c) : composeBlock(c)));
  return `${[head, ...notes, ...body].join("\n")}\n`;
}

function kubeDocument(c: Change): string {
  const t = c.loaded.patchTarget;
  const lines = [
    `---`,
    comment(`file: ${c.loaded.file || "(live cluster)"}`),
    comment(`${c.loaded.object}: ${summary(c.plan)}`),
  ];
  const env: { name: string; value: string }[] = [];
  for (const [variable, value] of c.values) {
    const origin = t?.envOrigin[variable];
    if (origin === undefined || origin === "env") env.push({ name: variable, value });
    else lines.push(comment(`${variable} comes from ${origin}: set it to "${value}" there (not patched here)`));
  }
  if (!t?.manifest || env.length === 0) return lines.join("\n");
  const { apiVersion, kind, namespace, name } = t.manifest;
  const doc = {
    apiVersion,
    kind,
    metadata: { name, namespace },
    spec: { template: { spec: { containers: [{ name: t.container, env }] } } },
  };
  return `${lines.join("\n")}\n${stringify(doc, { version: "1.1", lineWidth: 0 }).trimEnd()}`;
}

function composeBlock(c: Change): string {
  const lines = [``, comment(`file: ${c.loaded.file}`), comment(`${c.loaded.object}: ${summary(c.plan)}`)];
  for (const [variable] of c.values) {
    const origin = c.loaded.patchTarget?.envOrigin[variable];
    if (origin === "environment") {
      lines.push(
        `# ${variable} is set under environment: in the compose file, which wins over env files: change it there`,
      );
    } else if (origin !== undefined) lines.push(comment(`${variable} is set now in ${origin}`));
  }
  for (const [variable, value] of c.values) lines.push(`${variable}=${value}`);
  return lines.join("\n");
}
