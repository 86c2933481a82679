import { test } from 'tap'
import { inSlices } from '../src/in-slices.js'

test('inSlices visits every item in order, a slice at a time, letting queued work run between slices', async t => {
  const events: string[] = []
  // Work waiting for the event loop (standing in for sends that arrived), queued before and during the sweep.
  setImmediate(() => {
    events.push('other work')
    setImmediate(() => events.push('more work'))
  })
  const sweep = inSlices([0, 1, 2, 3, 4, 5, 6, 7, 8, 9][Symbol.iterator](), 4, item => { events.push(String(item)) })
  // The first slice runs at once.
  t.same(events, ['0', '1', '2', '3'])
  await sweep
  t.same(events, ['0', '1', '2', '3', 'other work', '4', '5', '6', '7', 'more work', '8', '9'])
})

test('inSlices over a live Set skips items deleted before their turn and visits ones added during the sweep', async t => {
  const set = new Set([1, 2, 3, 4])
  const seen: number[] = []
  const sweep = inSlices(set.values(), 2, item => { seen.push(item) })
  set.delete(3)
  set.add(5)
  await sweep
  t.same(seen, [1, 2, 4, 5])
})

test('inSlices ends at once on an empty iterator, and on a slice boundary', async t => {
  const seen: number[] = []
  await inSlices([][Symbol.iterator](), 3, (item: number) => { seen.push(item) })
  await inSlices([1, 2, 3][Symbol.iterator](), 3, item => { seen.push(item) })
  t.same(seen, [1, 2, 3])
})
