import { describe, expect, it } from 'vitest'
import { ApiError, describeError, fieldMessage, messageOf } from '../src/errors.js'

describe('error messages', () => {
  it('says each known code in Chinese, with the numbers of its details', () => {
    expect(messageOf('MOBILE_TAKEN')).toBe('该手机号码已注册')
    expect(messageOf('SMS_COOLDOWN', { retry_after: 42 })).toContain('42秒后再试')
    expect(messageOf('WRONG_PIN', { tries_left: 2 })).toContain('还可尝试2次')
  })

  it('names an unknown code instead of inventing a meaning', () => {
    expect(messageOf('SOMETHING_NEW')).toBe('操作失败（SOMETHING_NEW）')
  })

  it('puts a code under the field it concerns when the form has it', () => {
    const shown = describeError(new ApiError(409, 'MOBILE_TAKEN', 'taken', {}), ['name', 'mobile'])
    expect(shown).toEqual({ form: null, fields: { mobile: '该手机号码已注册' } })
  })

  it('puts it above the form when the form lacks that field', () => {
    const shown = describeError(new ApiError(401, 'INVALID_CREDENTIALS', 'no', {}), ['account', 'password'])
    expect(shown.form).toBe('账号或密码错误')
    expect(shown.fields).toEqual({})
  })

  it('reads a code as the form means it: a refused SMS login is a wrong code', () => {
    const shown = describeError(new ApiError(401, 'INVALID_CREDENTIALS', 'no', {}), ['mobile', 'sms_code'], {},
      { INVALID_CREDENTIALS: 'SMS_CODE_INVALID' })
    expect(shown).toEqual({ form: null, fields: { sms_code: '验证码错误或已过期' } })
  })

  it('puts each 400 detail under its field, in Chinese', () => {
    const error = new ApiError(400, 'VALIDATION_ERROR', 'Invalid input', {
      id_number: ['The check digit of the ID number is wrong.'],
      uscc: ['Characters not allowed in a unified social credit code: IO (use 0-9 and A-Z but I, O, S, V, Z).'],
    })
    const shown = describeError(error, ['id_number', 'uscc'])
    expect(shown.fields).toEqual({ id_number: '证件号码校验位错误', uscc: '统一社会信用代码含有不允许的字符' })
    expect(shown.form).toBeNull()
  })

  it('says a detail of a field the form does not show above the form', () => {
    const error = new ApiError(400, 'VALIDATION_ERROR', 'Invalid input', { body: ['Request body is not valid JSON.'] })
    const shown = describeError(error, ['mobile'])
    expect(shown.form).toBe('输入有误，请按提示修改：格式不正确')
  })

  it('maps an alias of the API field to the form field', () => {
    const error = new ApiError(400, 'VALIDATION_ERROR', '', { account: ['Give the mobile number or the resident ID number of the account.'] })
    expect(describeError(error, ['login'], { account: 'login' }).fields).toEqual({ login: '请输入注册的手机号码或证件号码' })
  })

  it('translates nested and unknown detail messages without showing English', () => {
    expect(fieldMessage('Missing data for required field.')).toBe('必填')
    expect(fieldMessage('企业名称必填: the registry has no entry for this USCC, so it must be entered by hand.')).toBe('请输入企业名称')
    expect(fieldMessage('Some new English sentence.')).toBe('格式不正确')
    expect(fieldMessage(undefined)).toBe('格式不正确')
  })

  it('treats a failure that is not an API answer as the agent being away', () => {
    expect(describeError(new TypeError('fetch failed')).form).toContain('IC 卡代理程序')
  })
})
