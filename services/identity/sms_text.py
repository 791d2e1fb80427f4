"""The text of each SMS identity sends (Chinese, as the portal's users read it)."""

_USE = {"register": "注册账户", "login": "登录", "reset_password": "重置密码",
        "personal_data": "下载或删除您的个人数据"}


def sms_text(purpose, code, limits):
    minutes = max(1, limits.sms_code_ttl // 60)
    return f"【电子口岸】您的验证码为{code}，用于{_USE[purpose]}，{minutes}分钟内有效。请勿将验证码告知他人。"
