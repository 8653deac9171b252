#!/usr/bin/env node
// The operator CLI. The commands are TypeScript run directly by Node's type
// stripping, so this needs Node 24 (the project's engine).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`latchkey: needs Node.js 24 or later (this is ${process.version}); try \`npx latchkey\` or \`npm run latchkey --\`\n`);
  process.exit(1);
}
await import('../src/cli/main.ts');
