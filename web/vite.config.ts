// Vite builds the playground from web/ and imports the library from src/ as
// `katjs`. The digits come from the `mnist` package, packed at build time
// (served from memory by the dev server).

import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { DIGITS_ASSET, encodeDigits } from './digits_asset.js';

function mnistDigits(): Plugin {
  let bytes: Uint8Array | null = null;
  const digits = () => (bytes ??= encodeDigits());
  return {
    name: 'katjs-mnist-digits',
    configureServer(server) {
      server.middlewares.use(`/${DIGITS_ASSET}`, (_request, response) => {
        response.setHeader('Content-Type', 'application/octet-stream');
        response.end(digits());
      });
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: DIGITS_ASSET, source: digits() });
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: { alias: { katjs: fileURLToPath(new URL('../src/index.ts', import.meta.url)) } },
  plugins: [mnistDigits()],
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
});
