// Preloaded into pushwire by the churn workload (node --import): a full garbage collection on SIGWINCH, so that
// heap figures before and after the churn compare live data, not garbage that no collection has reached yet.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')
process.on('SIGWINCH', () => gc())
