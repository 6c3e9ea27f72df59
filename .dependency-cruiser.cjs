// The core is pure: no clients, no clock, no environment, no file system (DESIGN §2, STYLE 7).
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
