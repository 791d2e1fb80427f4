// Prints every diagnostic @asyncapi/parser (validation against the spec and its linter rules)
// gives for the AsyncAPI document named on the command line, as a JSON array.
import fs from 'node:fs';
import { Parser } from '@asyncapi/parser';

const SEVERITIES = ['error', 'warning', 'info', 'hint'];
const { diagnostics } = await new Parser().parse(fs.readFileSync(process.argv[2], 'utf8'));
console.log(JSON.stringify(diagnostics.map(d => ({
  severity: SEVERITIES[d.severity], code: d.code, message: d.message, path: d.path.join('.'),
}))));
