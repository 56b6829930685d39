// Asks a Prometheus server's HTTP API. Usage:
//   node promql.mjs URL 'EXPR'               prints the instant vector as [[labels, value], ...]
//   node promql.mjs URL --dashboard FILE     evaluates every panel expression of a Grafana
//                                            dashboard ($__rate_interval and $__interval as 1m);
//                                            exits 1 naming each one that returns no data
const [url, arg, file] = process.argv.slice(2);

async function query(expr) {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await res.json();
  if (body.status !== "success") throw new Error(`${expr}: ${body.error ?? res.status}`);
  return body.data.result.map((s) => [s.metric, Number(s.value[1])]);
}

if (arg === "--dashboard") {
  const { readFileSync } = await import("node:fs");
  const dashboard = JSON.parse(readFileSync(file, "utf8"));
  const exprs = [];
  const walk = (panels) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (t.expr) exprs.push([p.title, t.expr]);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  let empty = 0;
  for (const [title, expr] of exprs) {
    const concrete = expr.replaceAll("$__rate_interval", "1m").replaceAll("$__interval", "1m");
    const result = await query(concrete);
    if (result.length === 0) {
      console.log(`  EMPTY  ${title}: ${concrete}`);
      empty += 1;
    } else {
      console.log(`  data   ${title}: ${result.length} series`);
    }
  }
  console.log(`${exprs.length} expressions, ${empty} without data`);
  process.exit(exprs.length > 0 && empty === 0 ? 0 : 1);
} else {
  console.log(JSON.stringify(await query(arg)));
}
