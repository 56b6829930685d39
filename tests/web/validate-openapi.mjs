// Validates an OpenAPI document against the official schema (the validator's CLI exits 0
// even for an invalid document, so this wraps its API). Usage: node validate-openapi.mjs FILE
import { Validator } from "@seriousme/openapi-schema-validator";

const file = process.argv[2];
const validator = new Validator();
const result = await validator.validate(file);
if (!result.valid) {
  console.error(`${file}: not a valid OpenAPI document`);
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
console.log(`${file}: a valid OpenAPI ${validator.version} document`);
