"""`eport clients add|list|remove`: the business systems single sign-on logs people into.

    eport clients add --name 报关系统 --system customs --redirect-uri https://customs.example/callback
    eport clients list
    eport clients remove CLIENT_ID

`add` prints the client_id and the client_secret; the secret is shown this once (stored hashed). With
`--public` (a relying party that runs in the browser, which can keep no secret) there is no secret: it
authenticates with token_endpoint_auth_method `none`, PKCE S256 still required.
"""
import json

from .broker import call, rpc
from .errors import OK
from .rows import print_rows


def _add(args, out):
    with rpc() as proxy:
        made = call(proxy, "sso", "add_client", args.name, args.system, args.redirect_uri,
                    args.post_logout_redirect_uri or [], args.backchannel_logout_uri, not args.no_require_grant,
                    args.public)
    if args.json:
        print(json.dumps(made, ensure_ascii=False), file=out)
        return OK
    print(f"client_id:     {made['client_id']}", file=out)
    if "client_secret" not in made:
        print("A public client: no secret (token_endpoint_auth_method none, PKCE S256).", file=out)
        return OK
    print(f"client_secret: {made['client_secret']}", file=out)
    print("The secret is shown this once: give it to the business system now.", file=out)
    return OK


def _list(args, out):
    with rpc() as proxy:
        clients = call(proxy, "sso", "list_clients")
    print_rows(clients, out, args.json, _client_line, "(no clients)")
    return OK


def _client_line(c):
    grant = "grant required" if c["require_grant"] else "no grant required"
    return (f"{c['client_id']}  {c['name']}  system={c['system'] or '-'}  {grant}  "
            f"auth={c.get('token_endpoint_auth_method', 'client_secret_basic')}  "
            f"redirect={' '.join(c['redirect_uris'])}")


def _remove(args, out):
    with rpc() as proxy:
        call(proxy, "sso", "remove_client", args.client_id)
    print(f"removed {args.client_id}: its tokens work no more", file=out)
    return OK


def add_parser(sub):
    p = sub.add_parser("clients", help="business systems of single sign-on (OpenID Connect clients)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="register a business system; prints its client_id and secret (once)")
    add.add_argument("--name", required=True)
    add.add_argument("--system", help="its code in GET /api/v1/systems")
    add.add_argument("--redirect-uri", action="append", required=True, help="exactly as the client sends it")
    add.add_argument("--post-logout-redirect-uri", action="append")
    add.add_argument("--backchannel-logout-uri")
    add.add_argument("--no-require-grant", action="store_true", help="let in members not granted --system")
    add.add_argument("--public", action="store_true",
                     help="a relying party in the browser: no secret, token_endpoint_auth_method none")
    add.add_argument("--json", action="store_true")
    add.set_defaults(run=_add)
    listing = verbs.add_parser("list", help="the registered clients")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_list)
    remove = verbs.add_parser("remove", help="remove a client: its tokens work no more")
    remove.add_argument("client_id")
    remove.set_defaults(run=_remove)
