// Was the machine busy with something else during a round? Two signs, both from /proc: steal time (the hypervisor
// ran other work on this VM's cores) and CPU used by processes that are neither this harness nor its children.
// A round either sign disturbed measures the host, not the target, so it is run again.
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'

const TICKS_PER_SECOND = 100 // USER_HZ, the unit of /proc/stat and /proc/<pid>/stat on Linux

function snapshot () {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number)
  // After the ") " that ends the command name: utime, stime, and cutime and cstime (children that have exited).
  const self = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number)
  return {
    at: performance.now(),
    // A task's system time includes the interrupts it was interrupted by, so the machine's total counts them too.
    busy: (user + nice + system + irq + softirq) / TICKS_PER_SECOND,
    steal: steal / TICKS_PER_SECOND,
    ours: (self[11] + self[12] + self[13] + self[14]) / TICKS_PER_SECOND
  }
}

/**
 * Runs `round` (which must start and stop every process it uses, so their CPU is counted here once they exit) and
 * runs it again, up to `attempts` times in all, while steal time plus foreign CPU exceed `limit` of the machine's
 * cores, or while `stalled(result)` says the round saw the host stall in some other way. The result carries `steal`,
 * `foreign` (fractions of the cores), `attempts`, and `disturbed` when the last try was still disturbed.
 */
export async function undisturbed (label, round, { limit = 0.15, stalled = () => false, attempts = 3, log = console.error } = {}) {
  for (let attempt = 1; ; attempt++) {
    const before = snapshot()
    const result = await round()
    const after = snapshot()
    const capacity = (after.at - before.at) / 1000 * cpus().length
    const steal = (after.steal - before.steal) / capacity
    const foreign = Math.max(0, after.busy - before.busy - (after.ours - before.ours)) / capacity
    const busy = steal + foreign > limit
    const disturbed = busy || stalled(result)
    if (!disturbed || attempt === attempts) return { ...result, steal, foreign, attempts: attempt, disturbed }
    log(`${label}: ${busy ? `something else took ${Math.round(steal * 100)} % (steal) + ${Math.round(foreign * 100)} % (other processes) of the cores` : 'the harness itself stalled'}; measuring the round again`)
  }
}
