// Builds the embedded development database ahead of first use (npm run devdb:build).
import { buildDevDb } from '../src/db/devdb.ts';

const started = Date.now();
const binary = await buildDevDb();
console.log(`embedded database ready: ${binary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
