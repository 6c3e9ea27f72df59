import { defineConfig } from "vitest/config";

// One project per real part, so each suite starts only what it needs (DESIGN §5).
// Integration projects never skip: a part that cannot start fails its globalSetup with a clear message.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Property tests run hundreds of cases; a busy 2-core machine must not turn them into timeouts.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "mysql",
          include: ["test/integration/mysql/**/*.test.ts"],
          globalSetup: ["test/support/mariadb.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "postgres",
          include: ["test/integration/postgres/**/*.test.ts"],
          globalSetup: ["test/support/postgres.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "cli",
          include: ["test/integration/cli/**/*.test.ts"],
          globalSetup: ["test/support/mariadb.global.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "kube",
          include: ["test/integration/kube/**/*.test.ts"],
          globalSetup: ["test/support/kube.global.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "docker",
          include: ["test/integration/docker/**/*.test.ts"],
          globalSetup: ["test/support/docker.global.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "controller",
          include: ["test/integration/controller/**/*.test.ts"],
          globalSetup: ["test/support/kube.global.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        // One table of situations against both daemons (kwok control plane + dockerd + MariaDB).
        test: {
          name: "conformance",
          include: ["test/integration/conformance/**/*.test.ts"],
          globalSetup: ["test/support/kube.global.ts", "test/support/docker.global.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        // A real kubelet and containerd (scripts/testbed/node.sh) joined to a control plane without kwok: real pods.
        test: {
          name: "node",
          include: ["test/integration/node/**/*.test.ts"],
          globalSetup: ["test/support/node.global.ts"],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "compose",
          include: ["test/integration/compose/**/*.test.ts"],
          globalSetup: ["test/support/docker.global.ts"],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
