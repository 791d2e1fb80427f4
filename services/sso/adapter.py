"""Authlib over plain data: the gateway hands single sign-on an HTTP request as a dict, and gets
an answer back as a dict (the gateway holds no protocol rule; services/sso/provider.py has them).

A request: {"method", "path", "args": {name: [values]}, "form": {name: [values]}, "headers": {...},
"cookie": the provider session cookie or None}. An answer: {"status", "headers": [[name, value]],
"body": text, "cookie": None | {"set": value, "max_age": seconds} | {"clear": True}}.
"""
import json
from collections import defaultdict

from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from werkzeug.datastructures import Headers

MAX_VALUES = 4  # repeats of one parameter kept: enough to see a repeat, which Authlib refuses


def _lists(raw):
    if not isinstance(raw, dict):
        return {}
    return {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])[:MAX_VALUES]] for k, vs in raw.items()}


class Payload(OAuth2Payload):
    def __init__(self, lists):
        self._lists = lists

    @property
    def data(self):
        return {k: v[0] for k, v in self._lists.items() if v}

    @property
    def datalist(self):
        return defaultdict(list, self._lists)


class PlainRequest(OAuth2Request):
    """An OAuth2Request over the gateway's dict: the query for GET, the form body for POST."""

    def __init__(self, http, uri):
        super().__init__(str(http.get("method", "GET")), uri, headers=Headers(http.get("headers") or {}))
        self._args, self._form = _lists(http.get("args")), _lists(http.get("form"))
        self.payload = Payload(self._form if self.method == "POST" else self._args)
        self.cookie = http.get("cookie") if isinstance(http.get("cookie"), str) else None

    @property
    def args(self):
        return {k: v[0] for k, v in self._args.items() if v}

    @property
    def form(self):
        return {k: v[0] for k, v in self._form.items() if v}


def answer(status, body, headers, cookie=None):
    if isinstance(body, dict):
        body = json.dumps(body)
        headers = [*headers, ("Content-Type", "application/json")]
    return {"status": status, "headers": [[k, v] for k, v in headers], "body": body or "", "cookie": cookie}
