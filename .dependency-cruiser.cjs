// Layers, enforced (DESIGN §2, STYLE 7): the core is pure; each daemon only observes its world and acts through its
// actuator, the pass between them is runtime/'s; each client library stays in the one folder that owns it.
const SHELLS = "^src/(kube|docker|sources|runtime|mysql|postgres)/";
module.exports = {
  forbidden: [
    {
      name: "core-is-pure",
      comment: "src/core must not import I/O: clients, node builtins, or any shell folder",
      severity: "error",
      from: { path: "^src/core/" },
      to: {
        pathNot: "^src/core/",
      },
    },
    {
      name: "kube-not-docker",
      comment: "the Kubernetes shell and the compose shell share only runtime/, sources/ and core/",
      severity: "error",
      from: { path: "^src/kube/" },
      to: { path: "^src/docker/" },
    },
    {
      name: "docker-not-kube",
      comment: "the Kubernetes shell and the compose shell share only runtime/, sources/ and core/",
      severity: "error",
      from: { path: "^src/docker/" },
      to: { path: "^src/kube/" },
    },
    {
      name: "shells-not-cli",
      comment: "the CLI wires the shells; nothing below it points back up",
      severity: "error",
      from: { path: SHELLS },
      to: { path: "^src/cli/" },
    },
    {
      name: "mysql2-only-in-mysql",
      comment: "the MySQL client stays behind the database seam (src/runtime/database-probe.ts)",
      severity: "error",
      from: { pathNot: "^src/mysql/" },
      to: { path: "node_modules/mysql2/" },
    },
    {
      name: "mysql-types-only-in-mysql",
      comment: "outside src/mysql/ only runtime/drivers.ts may name the MySQL driver (one line of wiring)",
      severity: "error",
      from: { pathNot: "^src/(mysql/|runtime/drivers\\.ts$)" },
      to: { path: "^src/mysql/" },
    },
    {
      name: "pg-only-in-postgres",
      comment: "the PostgreSQL client stays behind the database seam (src/runtime/database-probe.ts)",
      severity: "error",
      from: { pathNot: "^src/postgres/" },
      to: { path: "node_modules/(pg|pg-[a-z-]+|@types/pg)/" },
    },
    {
      name: "postgres-types-only-in-postgres",
      comment: "outside src/postgres/ only runtime/drivers.ts may name the PostgreSQL driver (one line of wiring)",
      severity: "error",
      from: { pathNot: "^src/(postgres/|runtime/drivers\\.ts$)" },
      to: { path: "^src/postgres/" },
    },
    {
      name: "kubernetes-client-only-in-kube",
      severity: "error",
      from: { pathNot: "^src/kube/" },
      to: { path: "node_modules/@kubernetes/client-node/" },
    },
    {
      name: "dockerode-only-in-docker",
      severity: "error",
      from: { pathNot: "^src/docker/" },
      to: { path: "node_modules/(dockerode|@types/dockerode)/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    builtInModules: { add: [] },
  },
};
