// ONNX Runtime (CPU provider, all graph optimizations) behind bench/compare.py's line protocol:
// after loading and warming up it prints "ready MS"; each line with a count N runs N times and
// prints the latencies in ms; "quit" prints "rss MB" and exits. Inputs: random, shapes from argv.
const ort = require(__dirname + '/node_modules/onnxruntime-node');
const readline = require('readline');

async function main() {
  const [model, threads, warmup, ...specs] = process.argv.slice(2);
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential'});
  const feeds = {};
  for (const spec of specs) { // name:d0xd1x...
    const [name, dims] = spec.split(':');
    const shape = dims.split('x').map(Number);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    feeds[name] = new ort.Tensor('float32', data, shape);
  }
  for (let i = 0; i < Number(warmup); i++) await session.run(feeds);
  console.log('ready ' + (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1));
  const rl = readline.createInterface({input: process.stdin});
  for await (const line of rl) {
    if (line.startsWith('quit')) break;
    const n = parseInt(line, 10), times = [];
    for (let i = 0; i < n; i++) {
      const a = process.hrtime.bigint();
      await session.run(feeds);
      times.push((Number(process.hrtime.bigint() - a) / 1e6).toFixed(4));
    }
    console.log(times.join(' '));
  }
  // VmHWM, not maxRSS: the latter inherits the forking parent's high-water mark
  const hwm = /VmHWM:\s+(\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'));
  console.log('rss ' + (Number(hwm[1]) / 1024).toFixed(1));
  process.exit(0);
}
main().catch(e => { console.error(String(e)); process.exit(1); });
