#!/usr/bin/env node
// Runs models under ONNX Runtime (CPU) and writes their outputs, for
// checks whose reference is whatever ORT computes (mutate_check.py).
//
// usage: node ort_run.js CASE_DIR...
//
// Each CASE_DIR has model.onnx and manifest.json (moe_models.py's format).
// For every run, writes ORT's output as float64 to ort_<tokens>.bin. Prints
// "ran DIR" or "failed DIR: message" per directory; a model ORT cannot run
// is not an error here (its caller skips it).
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function runCase(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
  // As in ort_check.js: the optimization level the model's manifest names.
  const options = manifest.ort_optimization
                      ? {graphOptimizationLevel: manifest.ort_optimization}
                      : {};
  const session =
      await ort.InferenceSession.create(path.join(dir, manifest.model), options);
  for (const run of manifest.runs) {
    const bytes = fs.readFileSync(path.join(dir, run.input));
    const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const result = await session.run({x: new ort.Tensor('float32', x, run.shape)});
    const y = result[session.outputNames[0]];
    if (y.type !== 'float32')
      throw new Error(`output type ${y.type}`);
    fs.writeFileSync(path.join(dir, `ort_${run.tokens}.bin`),
                     Buffer.from(Float64Array.from(y.data).buffer));
    fs.writeFileSync(path.join(dir, `ort_${run.tokens}.shape`), JSON.stringify(y.dims));
  }
}

async function main() {
  const dirs = process.argv.slice(2);
  if (!dirs.length) {
    console.error('usage: node ort_run.js CASE_DIR...');
    process.exit(2);
  }
  for (const dir of dirs) {
    try {
      await runCase(dir);
      console.log(`ran ${dir}`);
    } catch (e) {
      console.log(`failed ${dir}: ${String(e.message || e).split('\n')[0]}`);
    }
  }
}

main();
