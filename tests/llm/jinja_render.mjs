// Renders chat-template cases with @huggingface/jinja (the reference for pare's Jinja subset).
// Usage: node jinja_render.mjs NODE_MODULES CASES.json OUT.json
// CASES: [{template, context}]; OUT: [{text} | {error}] in the same order.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [nm, casesPath, outPath] = process.argv.slice(2);
const { Template } = await import(pathToFileURL(path.join(nm, "@huggingface", "jinja", "dist", "index.js")).href);
const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
const out = cases.map(({ template, context }) => {
  try {
    return { text: new Template(template).render(context) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
fs.writeFileSync(outPath, JSON.stringify(out));
