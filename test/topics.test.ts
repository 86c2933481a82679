import t from 'tap'
import { MAX_TOPICS_PER_CONNECTION } from '../src/client/names.js'
import { parseTopicList } from '../src/topics.js'

t.test('parses, dedupes and checks a ?topics= list', async t => {
  t.same(parseTopicList(undefined), { topics: [] })
  t.same(parseTopicList(''), { topics: [] })
  t.same(parseTopicList('news,orders-42,news'), { topics: ['news', 'orders-42'] })
  t.same(parseTopicList('a:b.c_d-e'), { topics: ['a:b.c_d-e'] })
  t.same(parseTopicList('news,,sport'), { error: 'querystring/topics: "" is not a topic name (1-64 characters from A-Z a-z 0-9 _ - . :)' })
  t.match(parseTopicList('bad@name'), { error: /"bad@name" is not a topic name/ })
  t.match(parseTopicList('x'.repeat(65)), { error: /is not a topic name/ })
  const max = Array.from({ length: MAX_TOPICS_PER_CONNECTION }, (_, i) => `t${i}`)
  t.same(parseTopicList(max.join(',')), { topics: max })
  t.same(parseTopicList([...max, 'one-more'].join(',')), { error: 'querystring/topics has 33 topics; a connection may hold at most 32' })
})
