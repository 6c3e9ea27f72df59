// One tag story (issue 15): the chart deploys pooltuner:<appVersion> and the README tells people to build that tag
// from the package version, so the two must not drift apart.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { parse } from "yaml";

it("the chart's appVersion is the package version, and the README's build command tags it", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
  const chart = parse(readFileSync("charts/pooltuner/Chart.yaml", "utf8")) as { appVersion: string };
  expect(chart.appVersion).toBe(pkg.version);
  expect(readFileSync("README.md", "utf8")).toContain(`docker build -t pooltuner:${pkg.version} -t pooltuner:latest .`);
});
