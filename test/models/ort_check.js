#!/usr/bin/env node
// Runs the models moe_models.py wrote under ONNX Runtime (CPU) and compares
// each output with its float64 numpy reference.
//
// usage: node ort_check.js [--tolerance T] CASE_DIR...
//
// Prints one line per case and token count with the largest absolute error
// relative to the reference's largest magnitude, and exits 1 when any error
// exceeds the tolerance (default 1e-5: fp32 accumulation over at most a few
// hundred terms of magnitude ~1 stays well below it) or a model fails to run.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function readFloats(file, Type) {
  const bytes = fs.readFileSync(file);
  return new Type(bytes.buffer, bytes.byteOffset, bytes.length / Type.BYTES_PER_ELEMENT);
}

async function checkCase(dir, tolerance) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json')));
  if (manifest.ort_skip) {
    console.log(`skip ${manifest.case}: ${manifest.ort_skip}`);
    return true;
  }
  // manifest.ort_optimization names a graph optimization level where ORT's
  // defaults would change the numerics (its DequantizeLinear + MatMul fusion
  // into MatMulNBits quantizes activations to int8).
  const options = manifest.ort_optimization
                      ? {graphOptimizationLevel: manifest.ort_optimization}
                      : {};
  const session =
      await ort.InferenceSession.create(path.join(dir, manifest.model), options);
  let ok = true;
  for (const run of manifest.runs) {
    const x = readFloats(path.join(dir, run.input), Float32Array);
    const ref = readFloats(path.join(dir, run.reference), Float64Array);
    const result = await session.run({x: new ort.Tensor('float32', x, run.shape)});
    const y = result[session.outputNames[0]].data;
    let maxErr = 0, maxRef = 0;
    for (let i = 0; i < ref.length; ++i) {
      maxErr = Math.max(maxErr, Math.abs(y[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    const rel = maxErr / Math.max(maxRef, 1e-30);
    const pass = y.length === ref.length && rel <= tolerance;
    ok = ok && pass;
    console.log(`${pass ? 'ok  ' : 'FAIL'} ${manifest.case} T=${run.tokens} ` +
                `max_abs_err=${maxErr.toExponential(2)} ` +
                `rel=${rel.toExponential(2)} (|y|max=${maxRef.toFixed(3)})`);
  }
  return ok;
}

async function main() {
  const args = process.argv.slice(2);
  let tolerance = 1e-5;
  if (args[0] === '--tolerance') {
    tolerance = Number(args[1]);
    args.splice(0, 2);
  }
  if (!args.length || !(tolerance > 0)) {
    console.error('usage: node ort_check.js [--tolerance T] CASE_DIR...');
    process.exit(2);
  }
  let ok = true;
  for (const dir of args) {
    try {
      ok = (await checkCase(dir, tolerance)) && ok;
    } catch (e) {
      console.log(`FAIL ${path.basename(dir)}: ${String(e.message || e).split('\n')[0]}`);
      ok = false;
    }
  }
  process.exit(ok ? 0 : 1);
}

main();
