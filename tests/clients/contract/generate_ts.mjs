// Generate TypeScript types from an OpenAPI document (openapi-typescript) into generated/.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const warnings = [];
const ast = await openapiTS(doc, { silent: true, defaultNonNullable: false, logger: { warn: (m) => warnings.push(String(m)) } });
mkdirSync("generated", { recursive: true });
writeFileSync("generated/schema.d.ts", astToString(ast));
console.log(JSON.stringify({ warnings }));
