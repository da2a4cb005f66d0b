// The TextMate grammar, tokenized as VS Code does (vscode-textmate + vscode-oniguruma), on the
// shipped rules, the compiler's every-construct golden file and every ```lawful example of
// docs/language.md: each word, literal, operator
// and comment gets the scope a reference lexer (below, from the language manual's syntax summary)
// expects for it, and every token class occurs at least once.
//
//   node test/grammar_test.js REPO_ROOT
"use strict";
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.resolve(process.argv[2] || path.join(__dirname, "..", "..", ".."));
const grammarPath = path.join(__dirname, "..", "syntaxes", "lawful.tmLanguage.json");

const WORDS = {
  "keyword.operator.word": ["and", "or", "not", "in", "is"],
  "keyword.control": ["if", "then", "else", "where", "by", "when", "otherwise", "only"],
  "keyword.other.quantifier": ["any", "all", "count", "latest"],
  "keyword.other.outcome": ["deny", "allow"],
  "constant.language.boolean": ["true", "false"],
  "constant.language": ["missing", "present"],
  "storage.type": ["const", "def", "enum", "policy", "invariant"],
  "keyword.other.clause": ["cite", "note", "evidence", "valid", "until", "reason", "obligations",
                           "effective", "from", "for", "purposes", "channels"],
  "variable.language.request": ["at", "purpose", "channel", "notice_type", "contact"],
};
const UNITS = ["day", "days", "month", "months", "year", "years"];
const BUILTINS = ["local_date", "years_between"];

// The lexemes of one line, each with the scope it must carry: [{start, text, scope}].
function expectedTokens(line, state) {
  const out = [];
  let i = 0;
  let previous = "";  // the previous word or symbol
  let before = "";  // the one before it
  const push = (start, text, scope) => out.push({ start, text, scope });
  while (i < line.length) {
    const rest = line.slice(i);
    let m;
    if ((m = /^\s+/.exec(rest))) { i += m[0].length; continue; }
    if (rest[0] === "#") { push(i, rest, "comment.line.number-sign"); break; }
    if (rest[0] === '"') {
      m = /^"(?:\\.|[^"\\])*"?/.exec(rest);
      push(i, m[0], "string.quoted.double");
      i += m[0].length; previous = "text"; continue;
    }
    if ((m = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/.exec(rest))) {
      push(i, m[0], "constant.numeric.instant"); i += m[0].length; previous = "v"; continue;
    }
    if ((m = /^\d{4}-\d{2}-\d{2}/.exec(rest))) {
      push(i, m[0], "constant.numeric.date"); i += m[0].length; previous = "v"; continue;
    }
    if ((m = /^(\d+)(\s*)([a-z]+)\b/.exec(rest)) && UNITS.includes(m[3])) {
      push(i, m[1], "constant.numeric.duration");
      push(i + m[1].length + m[2].length, m[3], "keyword.other.unit");
      i += m[0].length; previous = "v"; continue;
    }
    if ((m = /^\d+/.exec(rest))) {
      push(i, m[0], "constant.numeric.integer"); i += m[0].length; previous = "v"; continue;
    }
    if ((m = /^(==|!=|<=|>=|<|>)/.exec(rest))) {
      push(i, m[0], "keyword.operator.comparison"); i += m[0].length; previous = m[0]; continue;
    }
    if ((m = /^[-+*/]/.exec(rest))) {
      push(i, m[0], "keyword.operator.arithmetic"); i += 1; previous = m[0]; continue;
    }
    if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      const word = m[0];
      const after = line.slice(i + word.length);
      let scope = null;
      if (previous === "def") scope = "entity.name.function";
      else if (previous === "const") scope = "entity.name.constant";
      else if (previous === "enum") scope = "entity.name.type.enum";
      else if (previous === "policy") scope = "entity.name.type.policy";
      else if (previous === "invariant" && before === "") scope = "entity.name.type.invariant";
      // An invariant's `then allow only by RULE, RULE`: the rules it names.
      else if (word === "only" && previous === "allow" && before === "then") scope = "keyword.control";
      else if (state.allowedBy) scope = "entity.name.function.rule";
      else if (previous === "deny" || previous === "allow") scope = "entity.name.function.rule";
      else if (previous === "reason") scope = "constant.other.reason";
      else if (state.obligations) scope = "constant.other.obligation";
      else if (previous === ".") scope = "variable.other.property";
      else if (state.params && /^\s*:/.test(after)) scope = "variable.parameter";
      else if (state.params && previous === ":") scope = "entity.name.type";
      else if (word === "purpose" && i === line.search(/\S/) && /^\s+[A-Za-z_]/.test(after))
        scope = "storage.type.purpose";
      else if (/^\s*\(/.test(after) && !Object.values(WORDS).flat().includes(word))
        scope = BUILTINS.includes(word) ? "support.function.builtin" : "entity.name.function.call";
      else {
        for (const [s, words] of Object.entries(WORDS)) if (words.includes(word)) scope = s;
        if (scope === null) scope = /^[A-Z][A-Z0-9_]*$/.test(word) ? "variable.other.constant"
                                                                     : "variable.other";
      }
      if (word === "obligations") state.obligations = true;
      if (word === "by" && previous === "only" && before === "allow") state.allowedBy = true;
      if (previous === "def" && /^\s*\(/.test(after)) state.pendingParams = true;
      push(i, word, scope);
      i += word.length; before = previous; previous = word; continue;
    }
    if (rest[0] === "(" && state.pendingParams) { state.params = true; state.pendingParams = false; }
    else if (rest[0] === ")" && state.params) state.params = false;
    before = previous;
    previous = rest[0];
    i += 1;
  }
  state.obligations = false;
  state.allowedBy = false;
  return out;
}

function examples() {
  const sources = [];
  for (const name of fs.readdirSync(path.join(root, "rules")).sort()) {
    if (name.endsWith(".lawful"))
      sources.push({ name: "rules/" + name, text: fs.readFileSync(path.join(root, "rules", name), "utf8") });
  }
  // The compiler's golden file, which uses every construct of the language once.
  sources.push({ name: "tests/golden/every_construct.lawful",
                 text: fs.readFileSync(path.join(root, "tests", "golden", "every_construct.lawful"), "utf8") });
  const manual = fs.readFileSync(path.join(root, "docs", "language.md"), "utf8");
  let n = 0;
  for (const m of manual.matchAll(/```lawful\n([\s\S]*?)```/g))
    sources.push({ name: `docs/language.md example ${++n}`, text: m[1] });
  return sources;
}

async function main() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
  });
  const grammar = await registry.loadGrammar("source.lawful");
  const failures = [];
  const seen = new Map();
  let checked = 0;
  for (const source of examples()) {
    let ruleStack = vsctm.INITIAL;
    const state = {};
    source.text.split("\n").forEach((line, index) => {
      const result = grammar.tokenizeLine(line, ruleStack);
      ruleStack = result.ruleStack;
      for (const want of expectedTokens(line, state)) {
        const token = result.tokens.find((t) => t.startIndex <= want.start && want.start < t.endIndex);
        const scopes = token ? token.scopes : [];
        const ok = scopes.some((s) => s.startsWith(want.scope + ".") || s === want.scope);
        checked++;
        seen.set(want.scope, (seen.get(want.scope) || 0) + 1);
        if (!ok)
          failures.push(`${source.name}:${index + 1}: \`${want.text}\` wants ${want.scope}, has ${scopes.join(" ")}`);
      }
    });
  }
  const classes = [
    "comment.line.number-sign", "string.quoted.double", "constant.numeric.integer",
    "constant.numeric.duration", "keyword.other.unit", "constant.numeric.date",
    "constant.numeric.instant", "constant.language.boolean", "constant.language",
    "keyword.operator.word", "keyword.control", "keyword.other.quantifier", "keyword.other.outcome",
    "storage.type", "storage.type.purpose", "keyword.other.clause", "variable.language.request",
    "keyword.operator.comparison", "keyword.operator.arithmetic", "entity.name.function",
    "entity.name.constant", "entity.name.type.enum", "entity.name.type.policy",
    "entity.name.type.invariant",
    "entity.name.function.rule", "constant.other.reason", "constant.other.obligation",
    "variable.other.property", "variable.parameter", "entity.name.type", "support.function.builtin",
    "entity.name.function.call", "variable.other.constant", "variable.other",
  ];
  for (const c of classes) if (!seen.has(c)) failures.push(`no example has a token of class ${c}`);
  for (const f of failures) console.error(f);
  console.log(`grammar: ${checked} tokens in ${examples().length} sources, ${seen.size} classes, ` +
              `${failures.length} failures`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
