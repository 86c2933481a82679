// The rules for user ids and topic names, in the client (which has no dependencies) and used by the server's schemas,
// so both say the same.

/**
 * One character of a user id, and of a topic name (regex character classes). The dash is escaped: browsers compile
 * the HTML pattern attribute with the v flag, where a bare trailing dash is a syntax error and the check is dropped.
 */
export const USER_ID_CHAR = '[A-Za-z0-9_.@:\\-]'
export const TOPIC_CHAR = '[A-Za-z0-9_.:\\-]'
export const TOPIC_PATTERN = `^${TOPIC_CHAR}+$`
export const NAME_MAX_LENGTH = 64
export const TOPIC_RULE = '1-64 characters from A-Z a-z 0-9 _ - . :'
/** Distinct topics one connection may hold (the server's ?topics= check, and the client's before it connects). */
export const MAX_TOPICS_PER_CONNECTION = 32
export const USER_ID_CHARS_PATTERN = `^${USER_ID_CHAR}+$`
/**
 * Not "." or "..": every URL parser (browsers, curl, ws, fetch) resolves /ws/.. as a path step, so such a user
 * could never connect.
 */
export const NO_PATH_STEP_PATTERN = '^(?!\\.{1,2}$)'
/** Both in one, for an HTML pattern attribute. */
export const USER_ID_PATTERN = `${NO_PATH_STEP_PATTERN}${USER_ID_CHARS_PATTERN.slice(1)}`
export const USER_ID_RULE = '1-64 characters from A-Z a-z 0-9 _ - . @ :, other than "." and ".."'

const userIdRegExp = new RegExp(USER_ID_PATTERN)
const topicRegExp = new RegExp(TOPIC_PATTERN)

export function isUserId (value: string): boolean {
  return value.length <= NAME_MAX_LENGTH && userIdRegExp.test(value)
}

export function isTopic (value: unknown): boolean {
  return typeof value === 'string' && value.length <= NAME_MAX_LENGTH && topicRegExp.test(value)
}
