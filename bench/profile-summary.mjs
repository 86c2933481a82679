// Summarizes a V8 .cpuprofile (from node --cpu-prof) as Markdown: self time by function and by package.
// Usage: node bench/profile-summary.mjs FILE.cpuprofile [TOP=30]
import { readFileSync } from 'node:fs'

const [file, topArg] = process.argv.slice(2).filter(a => !a.startsWith('--'))
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map(node => [node.id, node]))
const self = new Map()
const dt = profile.timeDeltas
for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (dt[i] ?? 0))
const total = [...self.values()].reduce((a, b) => a + b, 0)

/** Where a function lives: a package, node's internals, pushwire itself, or V8's own entries such as (garbage collector). */
function place (url) {
  if (url === '') return '(v8)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg !== null) return pkg[1]
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  return 'pushwire'
}

const functions = new Map()
const places = new Map()
for (const [id, time] of self) {
  const { callFrame: c } = byId.get(id)
  const where = place(c.url)
  const key = `${c.functionName || '(anonymous)'} ${c.url === '' ? '' : `${c.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|bench)\//, '$1/')}:${c.lineNumber + 1}`}`
  functions.set(key, (functions.get(key) ?? 0) + time)
  places.set(where, (places.get(where) ?? 0) + time)
}
const pct = t => (100 * t / total).toFixed(1) + ' %'
const rows = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `| ${pct(t)} | \`${k.trim()}\` |`).join('\n')
console.log(`Profile \`${file.split('/').pop()}\`: ${(total / 1e6).toFixed(1)} s sampled.\n`)
console.log(`| self | function |\n|---|---|\n${rows(functions, top)}\n`)
console.log(`| self | where |\n|---|---|\n${rows(places, 20)}`)

// --inclusive=name1,name2: time spent inside each named function, callees included (each sample counted once).
const inclusive = process.argv.find(a => a.startsWith('--inclusive='))?.slice(12).split(',')
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
