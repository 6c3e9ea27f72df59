// The compose-project flags of `plan`/`check`, through the real CLI process: --compose-profile (and
// COMPOSE_PROFILES), --compose-cli off / a path that is not compose, the override file merged. The real compose CLI
// is exercised in test/integration/compose/compose-project.test.ts.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../integration/cli/run-cli.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pooltuner-cli-compose-project-"));
  await writeFile(
    join(dir, "docker-compose.yml"),
    `name: shop
services:
  web:
    image: app
    command: gunicorn -w 4 app:app
    environment: {DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "1"}
    labels: {io.pooltuner.enabled: "true"}
  ops:
    image: app
    profiles: [ops]
    command: gunicorn -w 2 app:app
    environment: {DB_POOL_SIZE: "2", DB_MAX_OVERFLOW: "1"}
    labels: {io.pooltuner.enabled: "true"}
include:
  - other/compose.yaml
`,
  );
  await writeFile(join(dir, "docker-compose.override.yml"), "services:\n  web:\n    deploy: {replicas: 3}\n");
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// One CLI process (tsx) per test: seconds alone, 20 s and more on a loaded 2-core machine. Generous bounds, so only
// a run that hangs fails on time.
const CLI_TIMEOUT_MS = 180_000;
const plan = (args: string[], env: Record<string, string> = {}) =>
  runCli(
    ["plan", join(dir, "docker-compose.yml"), "--max-connections", "100", "--unmanaged", "0", "-o", "json", ...args],
    {
      COMPOSE_PROFILES: "",
      ...env,
    },
    CLI_TIMEOUT_MS,
  );
const ids = (stdout: string) =>
  (JSON.parse(stdout) as { plan: { workloads: { id: string; current: { peak: number } }[] } }).plan.workloads.map(
    (w) => `${w.id} ${w.current.peak}`,
  );

describe("plan/check: compose projects", { timeout: CLI_TIMEOUT_MS + 60_000 }, () => {
  it("the override file is merged; services of inactive profiles are left out; include is warned about", async () => {
    const r = await plan(["--compose-cli", "off"]);
    expect(r.code).toBe(0);
    // web: 3 replicas (the override) x 4 workers x (2 + 1)
    expect(ids(r.stdout)).toEqual(["compose:shop/web 36"]);
    expect((JSON.parse(r.stdout) as { warnings: string[] }).warnings).toContainEqual(
      expect.stringMatching(
        /docker-compose.yml.*include.*not supported without a compose CLI: the services of other\/compose.yaml are not read/,
      ),
    );
  });

  it("--compose-profile activates a profile", async () => {
    expect(ids((await plan(["--compose-cli", "off", "--compose-profile", "ops"])).stdout)).toEqual([
      "compose:shop/ops 6",
      "compose:shop/web 36",
    ]);
  });

  it("COMPOSE_PROFILES (comma-separated) does when the flag is not given", async () => {
    expect(ids((await plan(["--compose-cli", "off"], { COMPOSE_PROFILES: "debug,ops" })).stdout)).toEqual([
      "compose:shop/ops 6",
      "compose:shop/web 36",
    ]);
  });

  it("the flag wins over COMPOSE_PROFILES", async () => {
    expect(
      ids((await plan(["--compose-cli", "off", "--compose-profile", "debug"], { COMPOSE_PROFILES: "ops" })).stdout),
    ).toEqual(["compose:shop/web 36"]);
  });

  it("--compose-cli naming something that is not compose v2+: exit 2, one line", async () => {
    const r = await plan(["--compose-cli", "/bin/true"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: --compose-cli: /bin/true is not a compose CLI that answers `/bin/true version`\n");
  });
});
