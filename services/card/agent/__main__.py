"""Command line of the card agent."""
from __future__ import annotations

import argparse
import getpass
import json
import sys

from services.common.settings import setting

from ..certs import CardCertificateError, parse_card_certificate
from .errors import AgentError, GatewayError, WrongPin
from .gateway_client import DEFAULT_GATEWAY, bind, claim_admin, login
from .local_server import DEFAULT_ORIGINS, DEFAULT_PORT, serve
from .reader import CardSession, find_card, list_readers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.card.agent",
                                     description="Use an e-port IC card with the platform.")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for a card to be inserted")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("readers", help="list PC/SC readers and what is in them")
    sub.add_parser("info", help="show the card's number, type, holder and certificate")
    p_bind = sub.add_parser("bind", help="bind the card to an enterprise of the logged-in account")
    p_bind.add_argument("--gateway", default=DEFAULT_GATEWAY)
    p_bind.add_argument("--token", required=True, help="access token of the logged-in account")
    p_bind.add_argument("--enterprise", required=True, help="enterprise id")
    p_bind.add_argument("--pin", help="card PIN (else $CARD_PIN, else asked)")
    p_claim = sub.add_parser("claim-admin", help="claim the administrator role of an enterprise with its "
                                                 "legal-person card (角色认证); the card is bound too")
    p_claim.add_argument("--gateway", default=DEFAULT_GATEWAY)
    p_claim.add_argument("--token", required=True, help="access token of the logged-in account (the card's holder)")
    p_claim.add_argument("--uscc", required=True, help="the enterprise's USCC (the one on the card)")
    p_claim.add_argument("--name", help="企业名称, when nobody registered it and the registry does not know it")
    p_claim.add_argument("--address", help="注册地址, as --name")
    p_claim.add_argument("--business-scope", help="经营范围, as --name")
    p_claim.add_argument("--pin", help="card PIN (else $CARD_PIN, else asked)")
    p_login = sub.add_parser("login", help="log in with the card; prints the session JSON")
    p_login.add_argument("--gateway", default=DEFAULT_GATEWAY)
    p_login.add_argument("--pin", help="card PIN (else $CARD_PIN, else asked)")
    p_serve = sub.add_parser("serve", help="local mode for the web console: a small HTTP program on 127.0.0.1")
    p_serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    p_serve.add_argument("--origin", action="append", metavar="URL",
                         help="the console's origin, answered through CORS (repeatable; default "
                              "http://localhost:8000 and http://127.0.0.1:8000)")
    p_serve.add_argument("--pin-entry", choices=("browser", "terminal"), default="browser",
                         help="ask the PIN in a one-time prompt of the agent shown by the page, or on this terminal")
    args = parser.parse_args(argv)

    try:
        if args.command == "readers":
            return _readers()
        if args.command == "info":
            return _info(args.wait)
        if args.command == "serve":
            serve(args.origin or list(DEFAULT_ORIGINS), port=args.port, pin_entry=args.pin_entry,
                  card_timeout=max(args.wait, 1.0))
            return 0
        pin = args.pin or setting("CARD_PIN") or getpass.getpass("Card PIN: ")
        if args.command == "bind":
            result = bind(args.gateway, args.token, args.enterprise, pin, card_timeout=args.wait)
        elif args.command == "claim-admin":
            result = claim_admin(args.gateway, args.token, args.uscc, pin, card_timeout=args.wait, name=args.name,
                                 address=args.address, business_scope=args.business_scope)
        else:
            result = login(args.gateway, pin, card_timeout=args.wait)
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    except WrongPin as exc:
        print(f"error: wrong PIN, {exc.tries_left} tries left", file=sys.stderr)
    except GatewayError as exc:
        print(f"error: gateway answered {exc}", file=sys.stderr)
        if exc.details:
            print(json.dumps(exc.details, ensure_ascii=False), file=sys.stderr)
    except AgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    return 1


def _readers() -> int:
    names = list_readers()
    if not names:
        print("no readers")
    for name in names:
        try:
            with CardSession.open(name) as session:
                state = f"e-port card {session.read_info().card_no}"
        except AgentError as exc:
            state = str(exc)
        print(f"{name}: {state}")
    return 0


def _info(wait: float) -> int:
    with find_card(timeout=wait) as session:
        info = session.read_info()
        cert_pem = session.read_certificate()
        tries = session.pin_tries_left()
        reader = session.reader
    out = {"reader": reader, "card_no": info.card_no, "card_type": info.card_type,
           "holder_name": info.holder_name, "pin_tries_left": tries}
    try:
        cert = parse_card_certificate(cert_pem)
        out.update(uscc=cert.uscc, not_before=cert.not_before.isoformat(),
                   not_after=cert.not_after.isoformat())
    except CardCertificateError as exc:
        out["certificate_error"] = str(exc)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
