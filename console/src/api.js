// The gateway's public HTTP API (same origin; `prefix` '' for single sign-on's /oauth2/ paths). Errors
// become ApiError; a 401 UNAUTHENTICATED on an authenticated call ends the browser session and sends the
// person back to 登录.
import { ApiError, messageOf } from './errors.js'
import { session, signOut } from './session.js'
import { navigate } from './router.js'
import { PAGE_MAX, PAGE_SIZE, pagePath } from './pages.js'

export async function request(method, path, { body, auth = true, prefix = '/api/v1' } = {}) {
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`
  let response
  try {
    response = await fetch(`${prefix}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch {
    throw new ApiError(0, 'SERVICE_UNAVAILABLE', '', {})
  }
  if (response.status === 204) return null
  const payload = await response.json().catch(() => null)
  if (response.ok) return payload
  const error = payload?.error || {}
  const failure = new ApiError(response.status, error.code || `HTTP_${response.status}`, error.message, error.details)
  if (auth && failure.code === 'UNAUTHENTICATED') {
    signOut(messageOf('UNAUTHENTICATED'))
    navigate('/login')
  }
  throw failure
}

export const get = (path, opts) => request('GET', path, opts)
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body: body ?? {} })
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body })
export const del = (path, opts) => request('DELETE', path, opts)

// One page of a list (pages.js), and every item of one, page after page (a choice among all the members).
export const getPage = (path, cursor = null, limit = PAGE_SIZE) => get(pagePath(path, cursor, limit))

export async function getAll(path) {
  const items = []
  let cursor = null
  do {
    const page = await getPage(path, cursor, PAGE_MAX)
    items.push(...page.items)
    cursor = page.next_cursor
  } while (cursor)
  return items
}
