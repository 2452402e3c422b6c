// Fill one form with ODK's own XForms engine (@getodk/xforms-engine, the engine of ODK Web
// Forms) and print a JSON report: the form's languages, every control's label in each language
// asked for, the violations after the answers, and the submission XML the engine produces.
//
// Usage: node run_form.mjs < request.json
//        node run_form.mjs --serve    one request a line on stdin, one report a line on stdout
//                                     ({"error": "..."} for a request that fails); the tests
//                                     keep one such process for the run (starting node and the
//                                     engine took most of a form's time)
// request: {"form": "form.xml", "media": "dir with gazetteer.csv, entity-list CSVs...",
//           "languages": ["English (en)", ...]   labels are reported in each of these,
//           "language": "Lao (lo)"              the language the answers are entered in,
//           "answers": [["/data/group/question", "value"], ...],
//           "preload": {"deviceID": "...", "username": "..."}}
// An answer to a select is its choice names separated by spaces; an answer to a repeat is the
// number of items it must have. Answers are applied in order, as a person fills the form.
import { readFileSync, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { basename, join } from "node:path";
import { JSDOM } from "jsdom";

// The engine parses XML with the browser's DOM: give node the DOM of jsdom, as the engine's
// own node tests do.
const { window } = new JSDOM("");
for (const name of [
  "DOMParser",
  "XMLSerializer",
  "Node",
  "Element",
  "Attr",
  "Document",
  "XMLDocument",
  "DocumentFragment",
  "CharacterData",
  "Text",
  "Comment",
  "CDATASection",
  "ProcessingInstruction",
  "NodeFilter",
  "XPathResult",
  "XPathEvaluator",
  "document",
]) {
  if (window[name] !== undefined) {
    globalThis[name] = window[name];
  }
}
// The bundled tree-sitter loader takes node for CommonJS and reads __dirname, which an ES
// module does not have; it only needs a value (the WebAssembly is inlined in the bundle).
globalThis.__dirname ??= import.meta.dirname;
const { createInstance } = await import("@getodk/xforms-engine");

const CONTROLS = new Set(["input", "select", "note", "trigger", "range", "rank", "upload"]);

function mediaFetcher(folder) {
  return async (url) => {
    const name = basename(decodeURIComponent(new URL(String(url)).pathname));
    const path = folder ? join(folder, name) : null;
    if (path === null || !existsSync(path)) {
      return new Response(null, { status: 404 });
    }
    const type = name.endsWith(".csv") ? "text/csv" : name.endsWith(".xml") ? "text/xml" : "";
    return new Response(readFileSync(path), { status: 200, headers: { "content-type": type } });
  };
}

function* walk(node) {
  yield node;
  for (const child of node.currentState.children ?? []) {
    yield* walk(child);
  }
}

function nodesByReference(root) {
  const found = new Map();
  for (const node of walk(root)) {
    found.set(node.currentState.reference, node);
  }
  return found;
}

function describe(node) {
  const state = node.currentState;
  const entry = {
    ref: state.reference,
    type: node.nodeType,
    label: state.label === null ? null : state.label.asString,
    relevant: state.relevant,
  };
  if (node.nodeType === "select") {
    entry.options = state.valueOptions.map((item) => ({
      value: item.value,
      label: item.label.asString,
    }));
  }
  return entry;
}

function controls(root) {
  return [...walk(root)].filter((node) => CONTROLS.has(node.nodeType)).map(describe);
}

function setLanguage(root, name) {
  const language = root.languages.find((candidate) => candidate.language === name);
  if (language === undefined) {
    throw new Error(`the form has no language ${JSON.stringify(name)}`);
  }
  root.setLanguage(language);
}

function answer(root, ref, value) {
  const node = nodesByReference(root).get(ref);
  if (node === undefined) {
    throw new Error(`no node ${ref} in the form (or not yet created)`);
  }
  switch (node.nodeType) {
    case "repeat-range:uncontrolled": {
      const wanted = Number(value);
      const have = node.currentState.children.length;
      if (wanted > have) {
        node.addInstances(have - 1, wanted - have);
      } else if (wanted < have) {
        node.removeInstances(wanted, have - wanted);
      }
      return;
    }
    case "select":
      node.selectValues(String(value).split(" ").filter(Boolean));
      break;
    case "input":
    case "range":
      node.setValue(String(value));
      break;
    default:
      throw new Error(`${ref} is a ${node.nodeType}, which takes no answer`);
  }
  const now = node.currentState.value;
  const kept = Array.isArray(now) ? now.join(" ") : now === null ? "" : String(now);
  if (node.nodeType === "select" && kept !== String(value).trim()) {
    throw new Error(`${ref}: the engine kept ${JSON.stringify(kept)}, not ${JSON.stringify(value)}`);
  }
}

async function fill(request) {
  const instance = await createInstance(readFileSync(request.form, "utf-8"), {
    form: { fetchFormAttachment: mediaFetcher(request.media) },
    instance: { preloadProperties: request.preload ?? {} },
  });
  const root = instance.root;
  const report = {
    languages: root.languages.map((language) => language.language),
    labels: {},
  };
  for (const name of request.languages ?? []) {
    setLanguage(root, name);
    report.labels[name] = controls(root);
  }
  if (request.language) {
    setLanguage(root, request.language);
  }
  for (const [ref, value] of request.answers ?? []) {
    answer(root, ref, value);
  }
  report.language = root.currentState.activeLanguage.language;
  report.controls = controls(root);
  report.violations = root.validationState.violations.map((item) => ({
    ref: item.reference,
    condition: item.violation.condition,
    message: item.violation.message === null ? null : item.violation.message.asString,
  }));
  const payload = await root.prepareInstancePayload();
  report.status = payload.status;
  report.submission = await payload.data[0].get("xml_submission_file").text();
  return report;
}

if (process.argv.includes("--serve")) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) {
      continue;
    }
    let reply;
    try {
      reply = await fill(JSON.parse(line));
    } catch (error) {
      reply = { error: String(error?.stack ?? error) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  }
} else {
  process.stdout.write(JSON.stringify(await fill(JSON.parse(readFileSync(0, "utf-8")))));
}
