import { describe, expect, it } from 'vitest'
import { maskIdNumber, maskMobile } from '../src/masking.js'

describe('masking', () => {
  it('masks as the API does', () => {
    expect(maskMobile('13306506117')).toBe('133****6117')
    expect(maskIdNumber('11010519491231002x')).toBe('110105********002X')
  })

  it('never shows a malformed value in clear', () => {
    expect(maskMobile('1330650')).toBe('*******')
    expect(maskIdNumber('1101051949')).toBe('**********')
    expect(maskMobile(undefined)).toBe('')
  })
})
