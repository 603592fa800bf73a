#!/usr/bin/env node
//===- test/tokenizer/oracle.js - tokenizers.js as the tokenizer oracle ---===//
//
// Encodes (or decodes) every line of a corpus with Hugging Face's
// tokenizers.js (@huggingface/tokenizers, pinned in package.json), the
// reference that moec's tokenizer is checked against.
//
//   node oracle.js [options] TOKENIZER_DIR CORPUS
//
// TOKENIZER_DIR holds tokenizer.json and, optionally, tokenizer_config.json.
// CORPUS holds one JSON-encoded string per line (so a test string can carry
// "\n", "\r\n", "\t"); its last line ends in "\n". Writes one line to stdout
// per corpus line:
//
//   (default)             the ids of encode(text), add_special_tokens=false,
//                         space-separated in decimal; an empty line for none.
//   --decode              JSON.stringify(decode(encode(text).ids)), with
//                         skip_special_tokens=false and
//                         clean_up_tokenization_spaces=false (what the Rust
//                         tokenizers' Tokenizer::decode does); "" for no ids.
//   --tokens              JSON array of the token strings of encode(text).
//
//   --ids                 CORPUS lines are space-separated ids instead of
//                         JSON strings; with --decode, decodes those ids.
//   --add-special-tokens  encode with add_special_tokens=true (runs the
//                         tokenizer.json post-processor: llama2 adds <s>).
//   --chat                each line is a user message: render the
//                         tokenizer_config.json chat_template with Hugging
//                         Face's Jinja (@huggingface/jinja) and
//                         add_generation_prompt, as apply_chat_template does,
//                         then encode the text (no added special tokens).
//   --system TEXT         with --chat, a system message first.
//   --time                report load and encode/decode times on stderr.
//
// U+2028 and U+2029 are written as \u2028 and \u2029 in JSON output, as in
// the corpus, so that no output line holds a character some readers treat
// as a line break.
//
//===----------------------------------------------------------------------===//
'use strict';

const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('@huggingface/tokenizers');

function usage(msg) {
  if (msg) process.stderr.write(`oracle.js: ${msg}\n`);
  process.stderr.write(
    'usage: node oracle.js [--decode|--tokens] [--ids] [--add-special-tokens] ' +
      '[--time] TOKENIZER_DIR CORPUS\n');
  process.exit(2);
}

const opts = { decode: false, tokens: false, ids: false, special: false, time: false,
  chat: false, system: null };
const positional = [];
const argv = process.argv.slice(2);
for (let a = 0; a < argv.length; ++a) {
  const arg = argv[a];
  switch (arg) {
    case '--chat': opts.chat = true; break;
    case '--system': opts.system = argv[++a]; break;
    case '--decode': opts.decode = true; break;
    case '--tokens': opts.tokens = true; break;
    case '--ids': opts.ids = true; break;
    case '--add-special-tokens': opts.special = true; break;
    case '--time': opts.time = true; break;
    case '-h': case '--help': usage(); break;
    default:
      if (arg.startsWith('--')) usage(`unknown option ${arg}`);
      positional.push(arg);
  }
}
if (positional.length !== 2) usage('expected TOKENIZER_DIR and CORPUS');
if (opts.decode && opts.tokens) usage('--decode and --tokens exclude each other');
if (opts.ids && !opts.decode) usage('--ids needs --decode');
const [dir, corpusPath] = positional;

const json = (s) => JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

const t0 = process.hrtime.bigint();
const tokenizerJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const configPath = path.join(dir, 'tokenizer_config.json');
// The Tokenizer constructor requires a config object; {} when there is none.
const tokenizerConfig = fs.existsSync(configPath)
  ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {};
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
const t1 = process.hrtime.bigint();

const text = fs.readFileSync(corpusPath, 'utf8');
const lines = text.split('\n');
if (lines[lines.length - 1] === '') lines.pop();
else usage(`${corpusPath}: last line does not end in "\\n"`);

// An AddedToken's text, or the string itself.
const tokenText = (t) => (t && typeof t === 'object' ? t.content : t) || '';
const render = (user) => {
  const { Template } = require('@huggingface/jinja');
  const messages = opts.system === null ? [] : [{ role: 'system', content: opts.system }];
  messages.push({ role: 'user', content: user });
  return new Template(tokenizerConfig.chat_template).render({
    messages, add_generation_prompt: true,
    bos_token: tokenText(tokenizerConfig.bos_token),
    eos_token: tokenText(tokenizerConfig.eos_token),
  });
};
const encode = (s) => opts.chat
  ? tokenizer.encode(render(s), { add_special_tokens: false })
  : tokenizer.encode(s, { add_special_tokens: opts.special });
const decode = (ids) => ids.length === 0 ? '' :
  tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });

const out = [];
lines.forEach((line, i) => {
  const where = `${corpusPath}:${i + 1}`;
  let input;
  if (opts.ids) {
    if (!/^(\d+( \d+)*)?$/.test(line)) usage(`${where}: not space-separated ids`);
    input = line === '' ? [] : line.split(' ').map(Number);
  } else {
    try { input = JSON.parse(line); } catch (e) { usage(`${where}: not JSON: ${e.message}`); }
    if (typeof input !== 'string') usage(`${where}: not a JSON string`);
  }
  if (opts.decode) {
    out.push(json(decode(opts.ids ? input : encode(input).ids)));
  } else if (opts.tokens) {
    out.push(json(encode(input).tokens));
  } else {
    out.push(encode(input).ids.join(' '));
  }
});
const t2 = process.hrtime.bigint();
process.stdout.write(out.map((l) => l + '\n').join(''));

if (opts.time) {
  const ms = (a, b) => (Number(b - a) / 1e6).toFixed(1);
  process.stderr.write(`oracle.js: ${dir}: load ${ms(t0, t1)} ms, ` +
    `${lines.length} lines in ${ms(t1, t2)} ms\n`);
}
