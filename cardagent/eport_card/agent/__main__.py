"""Command line of the card agent: `eport-card-agent` (or `python -m eport_card.agent`).

No secret goes on the command line, where every user of the PC sees it in the process list: the
PIN comes from --pin-file, else $CARD_PIN, else a prompt that names the purpose, the card and the
site; an access token from --token-file, else $EPORT_ACCESS_TOKEN, else a prompt.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

from cryptography import x509

from ..certificate import OID_USCC, subject_field
from .errors import AgentError, GatewayError, WrongPin
from .gateway_client import DEFAULT_GATEWAY, bind, claim_admin, login
from .local_server import DEFAULT_ORIGINS, DEFAULT_PORT, serve
from .reader import CardSession, find_card, list_readers

REFUSED_FLAGS = ("--pin", "--token")
PIN_ENV, TOKEN_ENV = "CARD_PIN", "EPORT_ACCESS_TOKEN"


def _parser() -> argparse.ArgumentParser:
    # allow_abbrev off: "--pin" must not pass as an abbreviation of "--pin-file"
    parser = argparse.ArgumentParser(prog="eport-card-agent", allow_abbrev=False,
                                     description="Use an e-port IC card with the platform.")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for a card to be inserted")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("readers", help="list PC/SC readers and what is in them", allow_abbrev=False)
    sub.add_parser("info", help="show the card's number, type, holder and certificate", allow_abbrev=False)
    p_bind = _gateway_command(sub, "bind", "bind the card to an enterprise of the logged-in account", token=True)
    p_bind.add_argument("--enterprise", required=True, help="enterprise id")
    p_claim = _gateway_command(sub, "claim-admin", "claim the administrator role of an enterprise with its "
                                                   "legal-person card (角色认证); the card is bound too", token=True)
    p_claim.add_argument("--uscc", required=True, help="the enterprise's USCC (the one on the card)")
    p_claim.add_argument("--name", help="企业名称, when nobody registered it and the registry does not know it")
    p_claim.add_argument("--address", help="注册地址, as --name")
    p_claim.add_argument("--business-scope", help="经营范围, as --name")
    _gateway_command(sub, "login", "log in with the card; prints the session JSON", token=False)
    p_serve = sub.add_parser("serve", help="local mode for the web console: a small HTTP program on 127.0.0.1",
                             allow_abbrev=False)
    p_serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    p_serve.add_argument("--origin", action="append", metavar="URL",
                         help="the console's origin, answered through CORS (repeatable; default "
                              "http://localhost:8000 and http://127.0.0.1:8000)")
    p_serve.add_argument("--pin-entry", choices=("browser", "terminal"), default="browser",
                         help="ask the PIN in a one-time prompt of the agent shown by the page, or on this terminal")
    return parser


def _gateway_command(sub, name: str, help: str, *, token: bool) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=help, allow_abbrev=False)
    command.add_argument("--gateway", default=DEFAULT_GATEWAY)
    command.add_argument("--pin-file", type=Path, help=f"a file whose first line is the card PIN (else ${PIN_ENV}, "
                                                       "else asked, naming the purpose, the card and the site)")
    if token:
        command.add_argument("--token-file", type=Path, help="a file holding the logged-in account's access token "
                                                             f"(else ${TOKEN_ENV}, else asked)")
    return command


def refused_flag(argv: list[str]) -> str | None:
    """A secret given on the command line (--pin, --token, in any spelling), which is refused."""
    return next((arg for arg in argv if arg.split("=", 1)[0] in REFUSED_FLAGS), None)


def _first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size else ""


def _pin(args):
    """The PIN, or what asks for it once the card's number is known (gateway_client.Pin)."""
    if args.pin_file:
        return _first_line(args.pin_file)
    return os.environ.get(PIN_ENV) or (lambda question: getpass.getpass(f"{question}\nIC 卡密码 (card PIN): "))


def _token(args) -> str:
    if args.token_file:
        return _first_line(args.token_file)
    return os.environ.get(TOKEN_ENV) or getpass.getpass("访问令牌 (access token): ")


def _readers(args) -> int:
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


def _info(args) -> int:
    with find_card(timeout=args.wait) as session:
        info = session.read_info()
        cert_pem = session.read_certificate()
        out = {"reader": session.reader, "card_no": info.card_no, "card_type": info.card_type,
               "holder_name": info.holder_name, "pin_tries_left": session.pin_tries_left()}
    cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))  # the reader made this PEM from valid DER
    out.update(uscc=subject_field(cert, OID_USCC), not_before=cert.not_valid_before_utc.isoformat(),
               not_after=cert.not_valid_after_utc.isoformat())
    return _printed(out)


def _serve(args) -> int:
    serve(args.origin or list(DEFAULT_ORIGINS), port=args.port, pin_entry=args.pin_entry,
          card_timeout=max(args.wait, 1.0))
    return 0


def _bind(args) -> int:
    return _printed(bind(args.gateway, _token(args), args.enterprise, _pin(args), card_timeout=args.wait))


def _claim_admin(args) -> int:
    return _printed(claim_admin(args.gateway, _token(args), args.uscc, _pin(args), card_timeout=args.wait,
                                name=args.name, address=args.address, business_scope=args.business_scope))


def _login(args) -> int:
    return _printed(login(args.gateway, _pin(args), card_timeout=args.wait))


def _printed(result: dict) -> int:
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


_COMMANDS = {"readers": _readers, "info": _info, "serve": _serve, "bind": _bind, "claim-admin": _claim_admin,
             "login": _login}


def _report(exc: AgentError) -> None:
    if isinstance(exc, WrongPin):
        print(f"error: wrong PIN, {exc.tries_left} tries left", file=sys.stderr)
    elif isinstance(exc, GatewayError):
        print(f"error: gateway answered {exc}", file=sys.stderr)
        if exc.details:
            print(json.dumps(exc.details, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    flag = refused_flag(argv)
    if flag:
        parser.error(f"{flag.split('=', 1)[0]} is not taken: the command line shows in the process list. "
                     f"Use --pin-file or ${PIN_ENV} for the PIN (or type it when asked), --token-file or "
                     f"${TOKEN_ENV} for the access token")
    args = parser.parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except AgentError as exc:
        _report(exc)
    except OSError as exc:  # a --pin-file or --token-file that cannot be read
        print(f"error: {exc}", file=sys.stderr)
    except EOFError:  # no terminal to ask on, and nothing on standard input
        print(f"error: no PIN or token to read: use --pin-file or ${PIN_ENV}, --token-file or ${TOKEN_ENV}",
              file=sys.stderr)
    except KeyboardInterrupt:
        pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
