// autocannon (devDependency) as a contender, through its programmatic API in its own process:
// a warmup run, then the measured run, same connections, method, headers and body as our
// driver (minus Content-Length: autocannon writes its own, and a second one gets every request
// rejected).
//
//   node bench/plain/autocannon.mjs '<json config>'      (bench/run.ts builds it)
//
// req/s = completed requests / measured duration (autocannon's `requests.total / duration`).
// Prints one JSON line on stdout.
import autocannon from "autocannon"
const cfg = JSON.parse(process.argv[2])
const run = (durationS) => autocannon({
  url: cfg.url,
  method: "POST",
  headers: cfg.headers,
  body: cfg.body,
  connections: cfg.connections,
  pipelining: 1,
  duration: durationS
})
if (cfg.warmupS > 0) await run(cfg.warmupS)
const cpu0 = process.cpuUsage()
const r = await run(cfg.durationS)
const cpu = process.cpuUsage(cpu0)
const start = new Date(r.start).getTime()
const finish = new Date(r.finish).getTime()
process.stdout.write(
  JSON.stringify({
    contender: "autocannon",
    concurrency: cfg.connections,
    windowSeconds: r.duration,
    windowStartWall: start,
    windowEndWall: finish,
    requests: r.requests.total,
    ok: r.requests.total - r.non2xx,
    errors: r.errors + r.non2xx,
    timeouts: r.timeouts,
    rps: r.requests.total / r.duration,
    latency: { p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.average, max: r.latency.max },
    selfCpuPercentInWindow: Math.round((cpu.user + cpu.system) / 1e6 / ((finish - start) / 1e3) * 1e3) / 10
  }) + "\n"
)
