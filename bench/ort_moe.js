#!/usr/bin/env node
// Times a model under ONNX Runtime's CPU execution provider, cycling its
// input through windows of token rows, and prints one JSON line per token
// count.
//
// usage: node bench/ort_moe.js MODEL.onnx POOL.npy THREADS T:ITERATIONS...
//        [--dump T FILE] [--roofline PROGRAM]
//
// POOL.npy holds float32 [R, H] token rows; the run for T tokens takes
// windows rows [w*T, (w+1)*T) for w = 0, 1, ... while they fit, one window
// per run, the same windows the moec binary's --bench-tokens takes. One
// untimed run precedes the timed ones. --dump writes the output of window 0
// at T tokens as raw float32, to compare with moec. --roofline runs
// PROGRAM (moec-roofline) right before and after each token count's timed
// runs and adds its median GB/s as roofline_before / roofline_after.
'use strict';

const {execFileSync} = require('child_process');
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpyFloat32(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY')
    throw new Error(`${file} is not a .npy file`);
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = bytes.toString('latin1', start - headerLen, start);
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True"))
    throw new Error(`${file} must hold C-order float32`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',')
                      .filter((s) => s.trim()).map(Number);
  const data = new Float32Array(bytes.buffer.slice(
      bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return {shape, data};
}

async function main() {
  const args = process.argv.slice(2);
  let dump = null, roofline = null;
  const at = args.indexOf('--dump');
  if (at >= 0) {
    dump = {tokens: Number(args[at + 1]), file: args[at + 2]};
    args.splice(at, 3);
  }
  const rooflineAt = args.indexOf('--roofline');
  if (rooflineAt >= 0) {
    roofline = args[rooflineAt + 1];
    args.splice(rooflineAt, 2);
  }
  if (args.length < 4) {
    console.error('usage: node ort_moe.js MODEL.onnx POOL.npy THREADS ' +
                  'T:ITERATIONS... [--dump T FILE] [--roofline PROGRAM]');
    process.exit(2);
  }
  const [model, poolFile, threadsArg, ...runs] = args;
  const threads = Number(threadsArg);
  const pool = readNpyFloat32(poolFile);
  const [rows, hidden] = pool.shape;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0];
  const output = session.outputNames[0];
  for (const run of runs) {
    const [tokens, iterations] = run.split(':').map(Number);
    const windows = Math.floor(rows / tokens);
    if (!(windows >= 1))
      throw new Error(`the pool has ${rows} rows, fewer than ${tokens}`);
    const feeds = [];
    for (let w = 0; w < windows; ++w)
      feeds.push({[input]: new ort.Tensor('float32',
          pool.data.subarray(w * tokens * hidden, (w + 1) * tokens * hidden),
          [tokens, hidden])});
    const first = await session.run(feeds[0]);
    if (dump && dump.tokens === tokens)
      fs.writeFileSync(dump.file, Buffer.from(first[output].data.buffer));
    const measureRoofline = () => roofline && Number(
        execFileSync(roofline, ['--threads', String(threads)], {encoding: 'utf8'})
            .match(/median_gb_per_s=([0-9.]+)/)[1]);
    const rooflineBefore = measureRoofline();
    const ms = [];
    for (let i = 0; i < iterations; ++i) {
      const start = process.hrtime.bigint();
      await session.run(feeds[(i + 1) % windows]);
      ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const rooflineAfter = measureRoofline();
    ms.sort((a, b) => a - b);
    console.log(JSON.stringify({tokens, windows, threads, iterations,
                                median_ms: ms[ms.length >> 1], min_ms: ms[0],
                                roofline_before: rooflineBefore,
                                roofline_after: rooflineAfter}));
  }
}

main().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
