// @hey-api/openapi-ts: a fetch client, the document's types and one function per operation.
// RELINK_OPENAPI and RELINK_TS_CLIENT_DIR let tests/sdk generate from the committed document
// into a scratch folder; by default the client lands in ./client (not committed).
import { defineConfig } from '@hey-api/openapi-ts';

export default defineConfig({
  input: process.env.RELINK_OPENAPI ?? '../../openapi/openapi.json',
  output: {
    path: process.env.RELINK_TS_CLIENT_DIR ?? 'client',
    // Node runs the compiled ES modules as they are, so relative imports need their extension.
    module: { extension: '.js' },
  },
  // Refuse a document the parser finds fault with, rather than generating around it.
  parser: { validate_EXPERIMENTAL: 'strict' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
  logs: { file: false },
});
