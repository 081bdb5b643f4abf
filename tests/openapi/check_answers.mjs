// Checks real answers of a node against docs/openapi.json: each argument is
// METHOD:PATH:STATUS:FILE (or response:NAME:-:FILE for an answer the document gives as a shared
// response, components/responses/NAME, such as a 405 to a method no path has); the JSON body FILE
// of that answer is validated (JSON Schema 2020-12, as
// OpenAPI 3.1 uses it; formats checked) against the schema the document gives for that operation,
// status and application/json. Exit 1 with the errors when one does not match, or when the document
// has no such answer. Used by tests/integration/openapi_test.sh.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const [docPath, ...answers] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(docPath, 'utf8'));
// The document as one schema resource, so "#/components/..." references resolve inside it.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const pointer = (...parts) => parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
let failed = 0;
for (const arg of answers) {
  const [method, path, status, file] = arg.split(':');
  let at = method === 'response' ? ['components', 'responses', path] : ['paths', path, method.toLowerCase(), 'responses', status];
  let response = at.reduce((o, k) => o?.[k], doc);
  if (response?.$ref) {
    at = response.$ref.slice(2).split('/');
    response = at.reduce((o, k) => o?.[k], doc);
  }
  if (!response?.content?.['application/json']?.schema) {
    console.error(`${method} ${path} ${status}: the document has no JSON answer for it`);
    failed++;
    continue;
  }
  const validate = ajv.getSchema(`openapi.json#/${pointer(...at, 'content', 'application/json', 'schema')}`);
  const body = JSON.parse(readFileSync(file, 'utf8'));
  if (!validate(body)) {
    console.error(`${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}\n  ${JSON.stringify(body)}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
