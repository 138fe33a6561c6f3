// Checks JSON documents against uptimeping's JSON Schema with ajv in strict mode,
// as editors (yaml-language-server) do: `node ajv.js SCHEMA.json < request.json`.
//
// The request is `{"documents": [{"id": ..., "value": ...}], "ref": "#/$defs/X"?}`;
// with `ref`, each value is checked against that part of the schema. The answer,
// on stdout, is `{"warnings": [...], "results": [{"id", "valid", "errors"}]}`:
// `warnings` holds everything ajv logged while compiling, which must be nothing.
"use strict";
const fs = require("fs");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");

const warnings = [];
const logger = {
  log: (...args) => warnings.push(["log", args.join(" ")]),
  warn: (...args) => warnings.push(["warn", args.join(" ")]),
  error: (...args) => warnings.push(["error", args.join(" ")]),
};
const schema = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const request = JSON.parse(fs.readFileSync(0, "utf8"));
const ajv = new Ajv2020({ strict: true, allErrors: true, logger });
addFormats(ajv);
let validate;
try {
  ajv.addSchema(schema);
  validate = ajv.getSchema(schema.$id + (request.ref || ""));
  if (!validate) throw new Error(`no schema at ${request.ref}`);
} catch (e) {
  process.stdout.write(JSON.stringify({ compile_error: String(e.message || e), warnings }));
  process.exit(0);
}
const results = request.documents.map(({ id, value }) => {
  const valid = validate(value);
  const errors = (validate.errors || []).map((e) => `${e.instancePath} ${e.message}`);
  return { id, valid, errors };
});
process.stdout.write(JSON.stringify({ warnings, results }));
