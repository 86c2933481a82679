// Summarizes a V8 .cpuprofile (from node --cpu-prof) as Markdown: self time by function and by package.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [TOP=30]
//   --inclusive=name1,name2           also the time inside each named function, callees included
//   --versus=OTHER.cpuprofile --per=N,M   instead, both profiles side by side in µs per request (FILE served N
//                                     requests, OTHER M), largest differences first; idle time left out
import { readFileSync } from 'node:fs'

const option = name => process.argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const [file, topArg] = process.argv.slice(2).filter(a => !a.startsWith('--'))
const top = Number(topArg ?? 30)

/** Where a function lives: a package, node's internals, pushwire itself, or V8's own entries such as (garbage collector). */
function place (url) {
  if (url === '') return '(v8)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  return 'pushwire'
}

/** Self time (µs) of each profile node, and summed by function and by place. */
function selfTimes (path) {
  const profile = JSON.parse(readFileSync(path, 'utf8'))
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const self = new Map()
  const dt = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0))
  const functions = new Map()
  const places = new Map()
  for (const [id, time] of self) {
    const { callFrame: c } = byId.get(id)
    const where = place(c.url)
    const key = `${c.functionName || '(anonymous)'} ${c.url === '' ? '' : `${c.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|bench)\//, '$1/')}:${c.lineNumber + 1}`}`
    functions.set(key, (functions.get(key) ?? 0) + time)
    places.set(where, (places.get(where) ?? 0) + time)
  }
  return { profile, byId, self, functions, places, total: [...self.values()].reduce((a, b) => a + b, 0) }
}

const versus = option('versus')
if (versus !== undefined) {
  const [n, m] = (option('per') ?? '1,1').split(',').map(Number)
  const a = selfTimes(file).functions
  const b = selfTimes(versus).functions
  const rows = [...new Set([...a.keys(), ...b.keys()])].filter(k => !k.startsWith('(idle)'))
    .map(k => [k.trim(), (a.get(k) ?? 0) / n, (b.get(k) ?? 0) / m])
  const sum = i => rows.reduce((s, r) => s + r[i], 0)
  rows.sort((x, y) => Math.abs(y[1] - y[2]) - Math.abs(x[1] - x[2]))
  const us = x => x.toFixed(2)
  console.log(`| \`${file.split('/').pop()}\` µs/request | \`${versus.split('/').pop()}\` µs/request | difference | function |\n|---|---|---|---|`)
  console.log(`| **${us(sum(1))}** | **${us(sum(2))}** | **${us(sum(1) - sum(2))}** | all but idle |`)
  for (const [k, x, y] of rows.slice(0, top)) console.log(`| ${us(x)} | ${us(y)} | ${us(x - y)} | \`${k}\` |`)
  process.exit(0)
}

const { profile, byId, self, functions, places, total } = selfTimes(file)
const pct = t => (100 * t / total).toFixed(1) + ' %'
const rows = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `| ${pct(t)} | \`${k.trim()}\` |`).join('\n')
console.log(`Profile \`${file.split('/').pop()}\`: ${(total / 1e6).toFixed(1)} s sampled.\n`)
console.log(`| self | function |\n|---|---|\n${rows(functions, top)}\n`)
console.log(`| self | where |\n|---|---|\n${rows(places, 20)}`)

// --inclusive=name1,name2: time spent inside each named function, callees included (each sample counted once).
const inclusive = option('inclusive')?.split(',')
if (inclusive !== undefined) {
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const rowsOut = inclusive.map(name => {
    let time = 0
    for (const [id, t] of self) {
      for (let n = id; n !== undefined; n = parent.get(n)) {
        const c = byId.get(n).callFrame
        if (`${c.functionName} ${c.url}:${c.lineNumber + 1}`.includes(name)) { time += t; break }
      }
    }
    return `| ${pct(time)} | \`${name}\` |`
  })
  console.log(`\n| inclusive | function |\n|---|---|\n${rowsOut.join('\n')}`)
}
