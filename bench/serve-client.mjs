// The load client of bench/serve (a process of its own): `clients` loops, each posting one new redirect at a time
// to experiment bench/e<k mod experiments>, either `count` grants in all or for `seconds`. Prints a JSON summary:
// the latency of every grant (ms), how many were answered 200, how many were not, and the time taken.
// With `rotate`, each grant goes to the next experiment in turn.
const { url, token, clients, experiments, count, seconds, base, rotate } = JSON.parse(process.argv[2]);

const latencies = [];
let ok = 0;
let failed = 0;
let issued = 0;
const start = performance.now();
const deadline = seconds === undefined ? Number.POSITIVE_INFINITY : start + seconds * 1000;

async function loop(k) {
  for (let i = 0; ; i++) {
    const exp = `bench/e${(rotate ? i : k) % experiments}`;
    if (count !== undefined && issued >= count) return;
    if (performance.now() >= deadline) return;
    issued++;
    const port = base + k * 200 + i;
    const t = performance.now();
    const r = await fetch(`${url}/api/v1/experiments/${exp}/grants`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ rdr: `b/${port}` }),
    });
    const body = await r.text();
    latencies.push(performance.now() - t);
    if (r.status === 200) ok++;
    else {
      failed++;
      if (failed <= 3) process.stderr.write(`grant ${exp} b/${port}: ${r.status} ${body.slice(0, 300)}\n`);
    }
  }
}

await Promise.all(Array.from({ length: clients }, (_, k) => loop(k)));
console.log(JSON.stringify({ latencies, ok, failed, seconds: (performance.now() - start) / 1000 }));
