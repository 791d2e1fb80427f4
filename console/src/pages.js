// The API's lists come a page at a time: `limit` and `cursor` in, `next_cursor` out (null on the
// last page). A screen shows the first page and a 加载更多 button while there is a next one
// (api.js: getPage, getAll).

export const PAGE_SIZE = 50
export const PAGE_MAX = 200

export function pagePath(path, cursor = null, limit = PAGE_SIZE) {
  const params = new URLSearchParams({ limit: String(limit) })
  if (cursor) params.set('cursor', cursor)
  return `${path}${path.includes('?') ? '&' : '?'}${params}`
}
