import { describe, expect, it } from 'vitest'
import { returnTo } from '../src/sso.js'

describe('returnTo', () => {
  it('is the authorization request the service sent', () => {
    const back = '/oauth2/authorize?client_id=c&scope=openid'
    expect(returnTo(`?return_to=${encodeURIComponent(back)}`)).toBe(back)
  })
  it('is nothing for another path or another site', () => {
    for (const back of ['https://evil.example/oauth2/authorize?x', '//evil.example/oauth2/authorize?', '/workbench',
      '/oauth2/authorizeX?', '/oauth2/token?client_id=c', '']) {
      expect(returnTo(`?return_to=${encodeURIComponent(back)}`)).toBeNull()
    }
    expect(returnTo('')).toBeNull()
  })
})
