import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard is built into dist/web, which the control plane serves at `/` (src/server/web-app.ts).
// Relative asset URLs, so the app works behind a proxy that mounts the control plane on a sub-path.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  // `npm run dev:web`: the app with hot reload, its API calls sent on to a running control plane
  // (ATOLL_SERVER, default the local fleet's), whose own-CA certificate the proxy accepts.
  server: {
    proxy: { '/v1': { target: process.env['ATOLL_SERVER'] ?? 'https://127.0.0.1:7700', changeOrigin: true, secure: false } },
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
});
