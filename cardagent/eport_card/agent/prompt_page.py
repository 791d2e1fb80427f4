"""The agent's one-time PIN prompt, a page of its own origin the console shows in a frame."""
from __future__ import annotations

import html

PROMPT_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>IC 卡身份验证</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:14px/1.6 "Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:12px;color:#303133}}
label{{display:block;margin-bottom:6px}}input{{font-size:16px;padding:6px 8px;width:100%;max-width:260px;
box-sizing:border-box;border:1px solid #dcdfe6;border-radius:4px}}button{{margin-top:10px;padding:6px 18px;
background:#1f5fa8;color:#fff;border:0;border-radius:4px;font-size:14px}}p.note{{color:#5c5f66;font-size:12px}}
p.purpose{{margin:0 0 8px;font-weight:600}}</style>
</head><body>{body}</body></html>"""

_PIN_FORM = """<form method="post" action="/pin/{token}" autocomplete="off" aria-describedby="purpose">
<p class="purpose" id="purpose">{question}</p>
<label for="pin">请输入 IC 卡的登录密码</label>
<input id="pin" name="pin" type="password" inputmode="numeric" maxlength="16" required autofocus>
<div><button type="submit">确定</button></div>
<p class="note">此密码只交给本机的 IC 卡代理程序，用于本次签名，不会保存或发送给网站。</p></form>"""


def pin_form(token: str, question: str) -> str:
    """The form of one signature: what it is for (purposes.pin_question) above the PIN box."""
    return _PIN_FORM.format(token=html.escape(token), question=html.escape(question))
