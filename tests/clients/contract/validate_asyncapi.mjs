// Validate an AsyncAPI document with the official parser; print {valid, errors, messages}.
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code}: ${d.message} at ${d.path.join("/")}`);
const messages = document ? document.allMessages().all().map((m) => m.name()) : [];
console.log(JSON.stringify({ valid: Boolean(document) && errors.length === 0, errors, messages }));
