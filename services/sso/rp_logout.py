"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `GET|POST /oauth2/logout`.

- `id_token_hint`: an ID token of ours (our keys, our issuer, `aud` a registered client); an expired
  one is accepted, as the spec allows. Anything else is refused (400), and nothing ends.
- `client_id` (optional): must be the hint's audience when both are given.
- `post_logout_redirect_uri`: one the client registered, exactly (no prefix, no normalisation);
  any other, or one without a client to check it against, is refused (400) and nothing ends.
- `state`: passed back on the redirect.
With a valid hint, the session of the hint's person ends at once (the browser's, else the hint's
`sid`); without one, a session found by the cookie ends only once the person confirms on the
provider's own page (a POST whose Origin, when a browser sends one, is the issuer's: neither a link
nor a form of another site, nor of a sibling origin of this site, logs anyone out). What ends: the
provider session (its cookie cleared), the identity session it rests on, its token families, and the
clients it gave tokens to are owed back-channel logout tokens (logouts.py).
"""
from html import escape
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri

from services.common.settings import issuer

from .adapter import answer

PAGE = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
        "<body><main><h1>{title}</h1><p>{text}</p>{extra}</main></body></html>")
PARAMS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


def _page(status, title, text, extra="", cookie=None):
    headers = [("Content-Type", "text/html; charset=utf-8")]
    return answer(status, PAGE.format(title=escape(title), text=escape(text), extra=extra), headers, cookie)


def _refused(text):
    return _page(400, "无法退出登录 (logout refused)", text)


def _confirmation(params):
    hidden = "".join(f'<input type="hidden" name="{k}" value="{escape(params[k])}">' for k in PARAMS if params.get(k))
    form = (f'<form method="post" action="/oauth2/logout">{hidden}<input type="hidden" name="confirm" value="yes">'
            '<button type="submit">退出登录 (sign out)</button></form>')
    return _page(200, "退出登录？(sign out?)", "确认退出统一身份认证登录。Confirm signing out of single sign-on.", form)


def _checked(provider, params):
    """(client or None, hint claims or None), or the refusal of a bad hint, client_id or URI."""
    claims = None
    if params.get("id_token_hint"):
        keys = provider.peers.token_keys()
        claims = keys.client_token_claims(params["id_token_hint"], issuer())
        if claims is None or provider.app.client(claims["aud"]) is None:
            return _refused("id_token_hint is not an ID token this provider gave one of its clients.")
    client_id = params.get("client_id")
    if claims is not None and client_id and client_id != claims["aud"]:
        return _refused("client_id is not the audience of id_token_hint.")
    client_id = claims["aud"] if claims is not None else client_id
    client = provider.app.client(client_id) if client_id else None
    if client_id and client is None:
        return _refused("client_id names no registered client.")
    uri = params.get("post_logout_redirect_uri")
    if uri is not None and (client is None or uri not in client.post_logout_redirect_uris):
        return _refused("post_logout_redirect_uri is not one the client registered (exactly), or no client "
                        "was named to check it against.")
    return client, claims


def _own_page(http):
    """A confirmation posted by the provider's own page: the Origin a browser sends with a POST is the
    issuer's (a sibling origin of the same site gets the Lax cookie sent too, so SameSite is not enough);
    a request without Origin (no browser) is taken."""
    origin = (http.get("headers") or {}).get("Origin")
    own = urlsplit(issuer())
    return origin is None or origin == f"{own.scheme}://{own.netloc}"


def logout(provider, http):
    request = provider.create_oauth2_request(http)
    params = request.payload.data
    checked = _checked(provider, params)
    if isinstance(checked, dict):
        return checked
    client, claims = checked
    app = provider.app
    session = app.session_of(request.cookie)
    if claims is not None and (session is None or session.user_id == claims["sub"]):
        target = session or app.live_session(claims.get("sid"), claims["sub"])
    elif session is not None and request.method == "POST" and params.get("confirm") == "yes" and _own_page(http):
        target = session
    elif session is not None:
        return _confirmation(params)
    else:
        target = None
    if target is not None:
        app.log_out(provider.run, target)
    cookie = {"clear": True} if session is None or target is session else None
    uri = params.get("post_logout_redirect_uri")
    if uri is not None:
        state = [("state", params["state"])] if params.get("state") else []
        return answer(302, "", [("Location", add_params_to_uri(uri, state))], cookie)
    return _page(200, "已退出登录 (signed out)", "您已退出统一身份认证登录。You are signed out of single sign-on.",
                 cookie=cookie)
