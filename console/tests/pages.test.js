import { describe, expect, it } from 'vitest'
import { pagePath, PAGE_SIZE } from '../src/pages.js'

describe('pagePath', () => {
  it('asks for a page of the default size, first without a cursor', () => {
    expect(pagePath('/messages')).toBe(`/messages?limit=${PAGE_SIZE}`)
  })
  it('adds the cursor, encoded, to a path that has a query already', () => {
    expect(pagePath('/e/1/association-requests?status=pending', 'ab+/=', 10))
      .toBe('/e/1/association-requests?status=pending&limit=10&cursor=ab%2B%2F%3D')
  })
})
