"""What a browser meets besides the protocol's redirects: the console's chooser, and CORS.

- `choices`: the console's chooser (/sso/choose) shows what this answers for the provider session
  of its cookie: the enterprises the person acts for, whether each lets them into the client (its
  grant), and for each the authorization URL that chooses it (scope `eport:enterprise:{id}`).
- CORS, for a relying party that runs in the browser (oidc-client-ts): the token endpoint answers
  a page whose origin is that of a registered redirect URI, and no other; discovery is public.
  `/oauth2/authorize` never sends CORS headers: it is navigated to, never fetched.
"""
from urllib.parse import parse_qs, urlencode, urlsplit

from contracts.errors import Unauthenticated, ValidationFailed
from contracts.sso import ENTERPRISE_SCOPE_PREFIX, RETURN_TO_MAX

from .adapter import answer

AUTHORIZE = "/oauth2/authorize"
PREFLIGHT = (("Access-Control-Allow-Methods", "POST"), ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
             ("Access-Control-Max-Age", "600"))


def _authorization(return_to):
    """The parameters of the /oauth2/authorize request the chooser was given, or None."""
    if not isinstance(return_to, str) or len(return_to) > RETURN_TO_MAX or not return_to.startswith(AUTHORIZE + "?"):
        return None
    args = parse_qs(urlsplit(return_to).query, keep_blank_values=True)
    return args if len(args.get("client_id", [])) == 1 else None


def _choosing(args, enterprise_id):
    scope = [s for s in " ".join(args.get("scope", [])).split() if not s.startswith(ENTERPRISE_SCOPE_PREFIX)]
    chosen = {**args, "scope": [" ".join([*scope, ENTERPRISE_SCOPE_PREFIX + enterprise_id])]}
    return AUTHORIZE + "?" + urlencode([(k, v) for k, vs in chosen.items() for v in vs])


def choices(provider, http):
    session = provider.app.session_of(http.get("cookie"))
    if session is None:
        raise Unauthenticated("No single sign-on session: log in again.")
    values = (http.get("args") or {}).get("return_to") or [None]
    args = _authorization(values[0])
    client = provider.query_client(args["client_id"][0]) if args else None
    if client is None:
        raise ValidationFailed("Not an authorization request of a registered client.",
                               {"return_to": ["Give the /oauth2/authorize URL the chooser was given."]})
    items = [{"enterprise_id": m["enterprise_id"], "name": m["enterprise_name"], "uscc": m["uscc"],
              "role": m["role"], "continue_to": _choosing(args, m["enterprise_id"]),
              "granted": provider.person(client, session.user_id, m["enterprise_id"], str(session.id),
                                         session.auth_time) is not None}
             for m in provider.peers.memberships(session.user_id)]
    return answer(200, {"client": {"name": client.client.name}, "items": items}, [])


def cors(provider, http):
    """The CORS headers of an answer to a page of this request's Origin."""
    origin = (http.get("headers") or {}).get("Origin")
    if isinstance(origin, str) and origin in provider.app.client_origins():
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    return [("Vary", "Origin")]


def preflight(provider, http):
    headers = cors(provider, http)
    return answer(204, "", headers + (list(PREFLIGHT) if len(headers) > 1 else []))
