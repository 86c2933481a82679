// The ?topics= list of a WebSocket connection: comma-separated names, at most 32, checked before the upgrade.
import { isTopic, MAX_TOPICS_PER_CONNECTION, TOPIC_RULE } from './client/names.js'

/** Parses "news,orders-42" into distinct names, or says what is wrong with it. */
export function parseTopicList (raw: string | undefined): { topics: string[] } | { error: string } {
  if (raw === undefined || raw === '') return { topics: [] }
  const topics = [...new Set(raw.split(','))]
  if (topics.length > MAX_TOPICS_PER_CONNECTION) {
    return { error: `querystring/topics has ${topics.length} topics; a connection may hold at most ${MAX_TOPICS_PER_CONNECTION}` }
  }
  for (const topic of topics) {
    if (!isTopic(topic)) {
      return { error: `querystring/topics: ${JSON.stringify(topic)} is not a topic name (${TOPIC_RULE})` }
    }
  }
  return { topics }
}
