// React Router framework mode. The server build is CommonJS because the
// repository is (no "type": "module"); web/server.ts requires it.
export default {
  appDirectory: 'app',
  buildDirectory: 'build',
  ssr: true,
  serverModuleFormat: 'cjs',
  // v7 behaviour, chosen on purpose (React Router 8 needs Node 22; see
  // ENVIRONMENT.md): loaders get the plain load context from web/server.ts.
  future: {
    v8_middleware: false,
    v8_splitRouteModules: false,
    v8_viteEnvironmentApi: false,
    v8_passThroughRequests: false,
    v8_trailingSlashAwareDataRequests: false,
  },
};
