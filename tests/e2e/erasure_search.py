"""The search harness of the erasure proof (tests/e2e/test_erasure.py, issue 24 item 6): with the
operator's keys, read everything the platform keeps (every table of every store and of every SQLite
file under var/, each value decrypted as the store cipher, the audit log's payload cipher and the
published log's row cipher would; every other file under var/, logs and the SMS outbox included;
every message of every queue of the vhost, dead letters included, read and put back) and find each
of a person's values in it: as UTF-8, as JSON \\u escapes, masked, the card number and the
certificate's SHA-256 digest (hex and base64) and a piece of the certificate itself.

`needles(values)` -> [(label, bytes)], `leaks(needles, sources)` -> ["<where>: <label>", ...]."""
import base64
import json
import sqlite3
import subprocess
import zlib
from pathlib import Path

import amqp
import psycopg2
from eventsourcing.utils import Environment

from contracts.masking import mask_id_number, mask_mobile
from services.common.cipher import AESCipher
from services.common.compression import SmallAsIs
from services.common.published import _place

AUDIT_ENCRYPTED = "aes:"  # services/audit/store.py ENCRYPTED: an encrypted audit payload's prefix
SKIPPED_FOLDERS = {"card-ca", "screenshots", "keys"}  # the test's own CA; the per-person keys (kept apart)


def needles(values):
    """Every form in which a value of `values` ({kind: value}) could be read back."""
    found = []
    for kind, value in values.items():
        forms = {"utf-8": value, "json-escaped": json.dumps(value)[1:-1]}
        if "\\u" in forms["json-escaped"]:
            forms["json-escaped-upper"] = forms["json-escaped"].replace("\\u", "\\U").upper().replace("\\U", "\\u")
        if kind == "id_number":
            forms["masked"] = mask_id_number(value)
        if kind == "mobile":
            forms["masked"] = mask_mobile(value)
        if kind == "cert_sha256":
            forms["upper"] = value.upper()
            forms["base64"] = base64.b64encode(bytes.fromhex(value)).decode()
            forms["base64url"] = base64.urlsafe_b64encode(bytes.fromhex(value)).decode().rstrip("=")
        for text, form in {text: form for form, text in reversed(list(forms.items()))}.items():
            found.append((f"{kind} ({form})", text.encode("utf-8")))  # each text once, under its first form
    return found


class Leaks(AssertionError):
    """What the search found of an erased person: one line per place and form (and a tool that did not
    finish with the erased person in the stores: "tool: ...")."""

    def __init__(self, found):
        shown = sorted(set(found))
        super().__init__(f"{len(shown)} leaks of the erased person's data (place: value (form)):\n" + "\n".join(shown))


def certificate_piece(pem):
    """A line of the certificate's base64 body (its subject names the holder): found means it is kept."""
    lines = [line for line in pem.strip().splitlines() if not line.startswith("-----")]
    return lines[len(lines) // 2]


class Keys:
    """The operator's keys of one platform's var/ (development: var/dev-secrets.json)."""

    def __init__(self, var):
        secrets = json.loads((Path(var) / "dev-secrets.json").read_text())
        self.cipher = AESCipher(Environment(env={"CIPHER_KEY": secrets["EPORT_CIPHER_KEY"]}))

    def readings(self, value, place=None):
        """What a stored value reads as: itself, and decrypted when one of the ciphers opens it."""
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, str):
            yield value.encode("utf-8")
            if value.startswith(AUDIT_ENCRYPTED):
                opened = self._open(base64.b64decode(value[len(AUDIT_ENCRYPTED):]))
                if opened is not None:
                    yield opened
            return
        if not isinstance(value, bytes):
            return
        yield value
        opened = self._open(value, place)
        if opened is not None:
            yield opened
            try:
                yield SmallAsIs().decompress(opened)
            except (zlib.error, ValueError):
                pass

    def _open(self, data, place=None):
        try:
            return self.cipher.decrypt(data, place)
        except (ValueError, TypeError):
            return None


def _hits(blob, found_needles):
    return [label for label, needle in found_needles if needle in blob]


def _rows(cursor, table, columns):
    cursor.execute(f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} FROM "{table}"')
    yield from cursor.fetchall()


def _search_table(where, keys, table, columns, rows, found_needles):
    leaked = []
    for row in rows:
        place = _place(*row[:4]) if table == "chained" and len(row) == 5 else None  # the published log's rows
        for value in row:
            for reading in keys.readings(value, place):
                leaked += [f"{where} {table}: {label}" for label in _hits(reading, found_needles)]
    return leaked


def sqlite_leaks(path, keys, found_needles):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return []
    leaked = []
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
            leaked += _search_table(path, keys, table, columns, _rows(db.cursor(), table, columns), found_needles)
    except sqlite3.DatabaseError:
        return leaked + _hits_of_file(path, found_needles)  # not a database after all: its bytes
    finally:
        db.close()
    return leaked


def postgres_leaks(database, keys, found_needles):
    conn = psycopg2.connect(dbname=database, user="postgres", host="localhost")
    leaked = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_schema, table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'")
            for schema, table in cur.fetchall():
                cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                            "table_name = %s ORDER BY ordinal_position", (schema, table))
                columns = [r[0] for r in cur.fetchall()]
                with conn.cursor() as rows:
                    rows.execute(f'SELECT * FROM "{schema}"."{table}"')
                    leaked += _search_table(f"postgres:{database}", keys, table, columns, rows.fetchall(),
                                            found_needles)
    finally:
        conn.close()
    return leaked


def _hits_of_file(path, found_needles):
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    return [f"{path}: {label}" for label in _hits(data, found_needles)]


def var_leaks(var, keys, found_needles):
    """Every file under `var` (a live one or a copy): SQLite stores table by table, the rest byte by byte."""
    leaked = []
    for path in sorted(Path(var).rglob("*")):
        if not path.is_file() or SKIPPED_FOLDERS & set(path.relative_to(var).parts[:-1]):
            continue
        if path.read_bytes()[:16] == b"SQLite format 3\x00":
            leaked += sqlite_leaks(path, keys, found_needles)
        else:
            leaked += _hits_of_file(path, found_needles)
    return leaked


def queue_leaks(vhost, found_needles, host="127.0.0.1:5672"):
    """Every message of every queue of `vhost` (dead letters too), read without taking it: each is
    got unacknowledged and goes back to its queue when the channel closes."""
    listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "messages"],
                            capture_output=True, text=True, timeout=60, check=True).stdout
    queues = [line.split("\t")[0] for line in listed.splitlines()[1:] if line.strip() and not line.endswith("\t0")]
    leaked = []
    with amqp.Connection(host=host, userid="guest", password="guest", virtual_host=vhost) as conn:
        for queue in queues:
            channel = conn.channel()
            while (message := channel.basic_get(queue, no_ack=False)) is not None:
                body = message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8")
                headers = json.dumps(message.properties.get("application_headers") or {}, default=str).encode()
                leaked += [f"queue {queue}: {label}" for label in _hits(body + headers, found_needles)]
            channel.close()  # every message got goes back
    return leaked


def pg_dump(database, path):
    subprocess.run(["pg_dump", "-h", "localhost", "-U", "postgres", "-f", str(path), database], check=True, timeout=120)


def pg_restore(path, database):
    subprocess.run(["createdb", "-h", "localhost", "-U", "postgres", database], check=True, timeout=60)
    subprocess.run(["psql", "-q", "-h", "localhost", "-U", "postgres", "-d", database, "-f", str(path)],
                   check=True, timeout=120, capture_output=True)
