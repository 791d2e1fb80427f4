"""Every setting of the platform, declared once with its default, and read from the environment.

No other module reads os.environ (tests/unit/test_settings.py fails if one does): they call
`setting(NAME)`, which answers the environment's value or the default declared here, at each call
(so a test or the launcher decides by setting the environment, never import time).
`deploy/config.yaml` lists the same settings as ${NAME:default}, for operators.

Secrets come from the environment (EPORT_CIPHER_KEY, EPORT_INDEX_KEY, EPORT_PII_KEK), checked by
services/common/secret_rules.py: a service refuses to start with a missing, placeholder, short or
reused one. Identity alone signs access tokens, with the P-256 keys of the PEM file EPORT_TOKEN_KEYS
names. Only with EPORT_ENV=development (`make run`, the tests) are missing ones generated once into
var/dev-secrets.json and var/token-keys.pem, so that every process of the platform, and its
restarts, agree.
"""
import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from contracts.tokens import load_private_keys, new_private_pem

from .secret_rules import SecretRefused, StartRefused, check_secret  # noqa: F401 (StartRefused: for the callers)

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None  # None: unset (the code that asks says what that means)
    about: str


def _budget(name, what, per_client, per_subject, everyone, ceiling=None):
    """The settings of one budget of gateway/budgets.py (its Budget names them): `what` it counts per client
    address, per subject and client address (per_subject: the subject's name, its words, the limit), and all
    clients together; with `ceiling` (the limit, why), per subject for every client together as well."""
    stem = f"BUDGET_{name}"
    subject, subject_words, subject_limit = per_subject
    made = [Setting(f"{stem}_PER_CLIENT", per_client, f"{what} per client address"),
            Setting(f"{stem}_PER_{subject}", subject_limit, f"{what} per {subject_words} and client address"),
            Setting(f"{stem}_GLOBAL", everyone, f"{what}, all clients together")]
    if ceiling:
        limit, why = ceiling
        made.append(Setting(f"{stem}_PER_{subject}_ALL_CLIENTS", limit,
                            f"{what} per {subject_words}, every client together: {why}"))
    return made


SETTINGS = {s.name: s for s in (
    Setting("EPORT_VAR", None, "directory of event stores, relay positions, dev secrets (default: var/ of the "
                               "checkout)"),
    Setting("EVENT_STORE", "sqlite", "sqlite, memory (unit tests) or postgres"),
    Setting("EVENT_STORE_URL", None, "with postgres: SQLAlchemy URL, {service} stands for the service name "
                                     "(default: database eport_<service> on localhost)"),
    Setting("EPORT_ENV", "production", "development: generated secrets and a development card CA (make run, tests)"),
    Setting("EPORT_CIPHER_KEY", None, "secret: AES key of every event store (base64 of 16, 24 or 32 bytes)"),
    Setting("EPORT_INDEX_KEY", None, "secret: HMAC key of PII-derived index ids (32+ bytes)"),
    Setting("EPORT_PII_KEK", None, "secret: the key that wraps every per-person key (base64 of 32 bytes; several, "
                                   "comma-separated, while rotating: the first wraps)"),
    Setting("EPORT_KEY_STORE", None, "folder of the per-person keys, one subfolder per service, kept and backed up "
                                     "apart from the event stores (default: EPORT_VAR/keys)"),
    Setting("EPORT_TOKEN_KEYS", None, "identity only: PEM file of its P-256 token keys, the first signs "
                                      "(python -m deploy.token_keys)"),
    Setting("EPORT_EVENT_KEY", None, "secret: the event-signing key of the service this process runs (base64 of a "
                                     "32-byte Ed25519 seed; python -m deploy.event_keys generate)"),
    Setting("EPORT_EVENT_KEYS", None, "the file of every source's published event keys (a JWK set), which consumers "
                                      "verify events with and the gateway serves (python -m deploy.event_keys)"),
    Setting("EPORT_SERVICES", None, "services of this deployment, comma-separated (set by the launcher; default: all)"),
    Setting("EPORT_QUEUE_TYPE", "classic", "consumer queues and their dead-letter queues: classic, or quorum "
                                           "(x-queue-type, replicated over a RabbitMQ cluster)"),
    Setting("EPORT_CRASH_AFTER_COMMAND", None, "fault tests only: an RPC method after whose command the process dies"),
    Setting("EPORT_CRASH_AFTER_SAVE", None, "fault tests only: RPC methods (comma-separated) after whose command's "
                                            "first save the process dies"),
    Setting("IDENTITY_HASH_THREADS", None, "argon2 hashes at once (default: cores + 1)"),
    Setting("IDENTITY_SMS_CODES_PER_MOBILE_DAY", "100", "SMS codes issued per mobile in 24 h, every client together: "
                                                        "bounds guessing (5 tries a code); only a flood reaches it"),
    Setting("RATE_LIMIT_URL", "memory://", "where budgets are counted: memory:// (this gateway alone) or "
                                           "redis://host:port/db (shared by every gateway)"),
    Setting("RATE_LIMIT_PREFIX", "eport", "prefix of the budgets' keys in Redis"),
    Setting("EPORT_TRUSTED_PROXIES", None, "proxies whose X-Forwarded-For names the client (addresses or CIDR "
                                           "blocks, comma-separated; none by default)"),
    # Budgets (gateway/budgets.py), in the notation of the `limits` package: "60/minute", "20/15 minutes"
    *_budget("LOGIN", "logins by password or SMS code", "60/minute", ("ACCOUNT", "account or mobile", "20/15 minutes"),
             "6000/minute"),
    *_budget("SMS", "SMS codes asked for", "30/hour", ("MOBILE", "mobile", "10/hour"), "20000/hour",
             ceiling=("60/hour", "stops bombing one number from many addresses")),
    *_budget("REGISTRATION", "registrations and identity claims", "30/hour", ("MOBILE", "mobile", "10/hour"),
             "10000/hour"),
    *_budget("CARD_CHALLENGE", "card challenges", "60/minute", ("CARD", "card number", "30/minute"), "6000/minute"),
    *_budget("PASSWORD", "password settings and resets", "30/hour", ("ACCOUNT", "account or mobile", "10/hour"),
             "6000/hour"),
    *_budget("ADMIN_CLAIM", "administrator claims", "20/hour", ("ACCOUNT", "claiming account", "10/hour"), "2000/hour"),
    *_budget("PERSONAL_DATA", "exports of personal data", "20/hour", ("ACCOUNT", "account", "5/hour"), "1000/hour"),
    *_budget("SSO", "single sign-on requests (/oauth2/*)", "600/minute",
             ("RP", "business system named (client_id)", "600/minute"), "60000/minute"),
    Setting("GATEWAY_CLIENT_CONCURRENCY", "16", "requests of one client a gateway works on at once (more wait "
                                                "their turn)"),
    Setting("GATEWAY_HASH_ROUTES", "6", "requests at once, per gateway, on routes that wait for a password hash "
                                        "(more: 503 at once)"),
    Setting("IDENTITY_HASH_QUEUE", "8", "hashes that may wait for a thread in identity (more: 503 at once)"),
    Setting("ENTERPRISE_REGISTRY", "file", "the enterprise credit registry: file"),
    Setting("ENTERPRISE_REGISTRY_FILE", None, "with file: its CSV (default: the sample in services/enterprise/data)"),
    Setting("CARD_CA_CERT", None, "PEM of the CA card certificates chain to (required unless EPORT_ENV=development, "
                                  "which makes a dev CA under EPORT_VAR)"),
    Setting("CARD_CRL", None, "the card CA's revocation list (PEM or DER): a file, or an http(s) URL"),
    Setting("CARD_CRL_REFRESH", "300", "seconds between two fetches of a CRL URL"),
    Setting("CARD_CRL_GRACE", "86400", "seconds the revocation list is trusted past its nextUpdate (0 to 604800); "
                                       "then card operations answer 503 CARD_REVOCATION_UNAVAILABLE"),
    Setting("CARD_CHALLENGE_TTL", "120", "seconds a card challenge is valid (1 to 3600)"),
    Setting("CARD_READER", None, "the reader the card agent uses (default: the first holding an e-port card)"),
    Setting("GATEWAY_CHECK_ANSWER_SECONDS", "0.2", "seconds a gateway repeats authz's answer to the same check "
                                                   "(a permissions PUT waits as long before answering; 0: off)"),
    Setting("EPORT_GC_FREEZE_SECONDS", "20", "seconds after a process starts before its objects are frozen out "
                                            "of full garbage collections (gc.freeze, services/common/heap.py; "
                                            "negative: never)"),
    Setting("AUTHZ_FOLLOW_SECONDS", "0.05", "how stale authz checks may be about other instances' saves (0: off)"),
    Setting("SMS_PROVIDER", "outbox", "where SMS go: outbox (a file, for development) or tencent (Tencent Cloud SMS)"),
    Setting("SMS_OUTBOX", None, "the outbox file (default: EPORT_VAR/sms-outbox.jsonl)"),
    Setting("SMS_OUTBOX_ALLOWED", "false", "true: notify starts with the outbox provider outside EPORT_ENV=development "
                                           "(a staging platform that sends no SMS); else it refuses to"),
    Setting("SMS_SIGN_NAME", None, "the SMS signature (短信签名) the provider approved"),
    Setting("SMS_TEMPLATES", None,
            "the provider's template id per purpose: register=…,login=…,reset_password=…,personal_data=…"),
    Setting("SMS_TEMPLATE_PARAMS", "code,minutes", "what fills a template's {1}, {2}…: code, minutes (of validity)"),
    Setting("SMS_ENDPOINT", "https://sms.tencentcloudapi.com", "the provider's API (a test's local server)"),
    Setting("SMS_TENCENT_REGION", "ap-guangzhou", "the Tencent Cloud region of the SMS application"),
    Setting("SMS_TENCENT_APP_ID", None, "the SmsSdkAppId of the Tencent Cloud SMS application"),
    Setting("SMS_TENCENT_SECRET_ID", None, "secret: the SecretId of a CAM user allowed sms:SendSms only"),
    Setting("SMS_TENCENT_SECRET_KEY", None, "secret: that user's SecretKey"),
    Setting("SMS_ATTEMPTS", "3", "tries of one SMS (a network error, the provider's internal error or rate limit) "
                                 "before it is parked"),
    Setting("SMS_RETRY_DELAY", "0.5", "seconds before the second try, doubling"),
    Setting("SMS_TIMEOUT", "5", "seconds one request to the provider may take"),
    Setting("GATEWAY_SOCKET_TIMEOUT", "10", "seconds one socket operation, and reading a whole body, may take"),
    Setting("CONSOLE_DIST", None, "the built web console (default: console/dist)"),
    Setting("AMQP_URI", "amqp://guest:guest@localhost:5672/", "the broker, for the operators' tools "
                                                              "(services get it from the nameko config); "
                                                              "a cluster's nodes ;-separated"),
    Setting("AMQP_SSL", None, "TLS options of an amqps:// broker (py-amqp's ssl, YAML/JSON: ca_certs, cert_reqs, "
                              "server_hostname); services get it from the nameko config"),
    Setting("EPORT_AMQP_URI", None, "the broker and user of the eport tool (default: AMQP_URI)"),
    Setting("EPORT_AUDITOR_AMQP_URI", None, "an auditor's broker user, for `eport demo` reading the audit trail "
                                            "(default: EPORT_AMQP_URI)"),
    Setting("EPORT_ISSUER", "http://localhost:8000", "single sign-on's issuer: the gateway's public URL, exactly as "
                                                      "business systems reach it (https outside development)"),
    Setting("SSO_ACCESS_TOKEN_TTL", "600", "seconds a business system's access token lives (at most 600)"),
    Setting("SSO_BACKCHANNEL_TIMEOUT", "5", "seconds a business system's back-channel logout endpoint may take "
                                            "to answer"),
    Setting("SSO_BACKCHANNEL_ATTEMPTS", "8", "tries of one logout token (back-off from SSO_BACKCHANNEL_RETRY_DELAY "
            "doubling up to 60 s) before it is parked in the dead-letter queue"),
    Setting("SSO_BACKCHANNEL_RETRY_DELAY", "1", "seconds before a logout token is sent again, doubling up to 60"),
    Setting("SSO_REFRESH_TOKEN_TTL", "28800", "seconds a business system's refresh tokens may renew its login"),
    Setting("EPORT_GATEWAY", "http://localhost:8000", "the gateway `eport demo` drives"),
    Setting("EPORT_MAX_FAILURES", "10", "failures of one event before its consumer parks it in its dead-letter queue"),
    Setting("EPORT_RETRY_DELAY", "1", "seconds before a failed event is retried, doubling up to 60"),
    Setting("EPORT_PUBLISHED_LOG", "on", "on: each service keeps the envelopes its relay published, encrypted "
                                         "(EPORT_VAR/<service>-published.db, about the size of its event store), and "
                                         "replays and rebuilds read them; off: they map every stored event again"),
)}


def setting(name):
    """The environment's value of a declared setting (an empty one counts as unset), else its default."""
    declared = SETTINGS[name]  # a KeyError here: declare the setting above
    value = os.environ.get(name)
    return value if value else declared.default


_SECRET_NAMES = {
    "EPORT_CIPHER_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "EPORT_INDEX_KEY": lambda: secrets.token_hex(32),
    "EPORT_PII_KEK": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
}
TOKEN_KEYS = "EPORT_TOKEN_KEYS"
# secrets each process holds of its own, checked for reuse against the shared ones (event_keys.py)
_OWN_SECRETS = ("EPORT_EVENT_KEY",)


def var_dir():
    path = Path(setting("EPORT_VAR") or REPO_ROOT / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def created_once(path, make_text):
    """The text of `path`, which the first process to get there writes (mode 0600) with `make_text()`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            text = path.read_text()
            if text:
                return text
            time.sleep(0.05)
        raise RuntimeError(f"{path} stays empty") from None
    text = make_text()
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return text


def _dev_secret(name):
    def generate():
        return json.dumps({name: make() for name, make in _SECRET_NAMES.items()})

    generated = json.loads(created_once(var_dir() / "dev-secrets.json", generate))
    if name in generated:
        return generated[name]
    # a secret declared after this var/ was made: a file of its own, made once as well
    return created_once(var_dir() / f"dev-secret-{name}", _SECRET_NAMES[name])


def issuer():
    """EPORT_ISSUER, as discovery and every token say it: https outside development (RFC 8414)."""
    value = setting("EPORT_ISSUER").rstrip("/")
    if not value.startswith("https://") and not development():
        raise RuntimeError("EPORT_ISSUER must be an https URL outside EPORT_ENV=development")
    return value


def development():
    """EPORT_ENV=development: the embedded defaults (generated secrets, a development card CA)."""
    return setting("EPORT_ENV") == "development"


def secret(name):
    value = setting(name)
    if development():
        return value or _dev_secret(name)
    check_secret(name, secret_values())
    return value


def secret_values():
    """Every secret's configured value (None when unset): no two may be the same."""
    return {name: setting(name) for name in (*_SECRET_NAMES, *_OWN_SECRETS)}


def token_signing_keys():
    """Identity's token keys (the first signs; all verify): EPORT_TOKEN_KEYS, a PEM file of P-256
    private keys (deploy/token_keys.py makes and rotates it)."""
    path = setting(TOKEN_KEYS)
    if not path:
        if not development():
            raise SecretRefused(TOKEN_KEYS, "it is not set: name the PEM file of identity's token keys "
                                            "(python -m deploy.token_keys new --file …)")
        return load_private_keys(created_once(var_dir() / "token-keys.pem", new_private_pem))
    try:
        return load_private_keys(Path(path).read_text(encoding="ascii"))
    except (OSError, ValueError, TypeError) as exc:
        raise SecretRefused(TOKEN_KEYS, f"{path} is not a PEM file of P-256 private keys ({exc})") from None


def _positive(name, kind):
    raw = setting(name)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a positive number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a positive number")
    return value


def consumer_queue_type():
    """classic or quorum (EPORT_QUEUE_TYPE): what every declarer of a consumer queue passes."""
    from contracts.subscriptions import QUEUE_TYPES

    queue_type = setting("EPORT_QUEUE_TYPE")
    if queue_type not in QUEUE_TYPES:
        raise StartRefused(f"EPORT_QUEUE_TYPE={queue_type!r}: expected one of {', '.join(QUEUE_TYPES)}")
    return queue_type


def consumer_max_failures():
    """How often a consumer's handler may fail on one event before the event is parked in the
    consumer's dead-letter queue (EPORT_MAX_FAILURES, default 10)."""
    return _positive("EPORT_MAX_FAILURES", int)


def consumer_retry_delay():
    """The first pause before a failed event is retried, doubling with each failure up to 60 s
    (EPORT_RETRY_DELAY seconds, default 1)."""
    return _positive("EPORT_RETRY_DELAY", float)
