"""The published log: a service's integration events as its relay made them, kept encrypted by
position beside its notification log, so that a replay or a rebuild reads them back in one scan
instead of decoding and mapping every stored event again (docs/PERFORMANCE.md, bench/replay.py).

A cache, not a record: what it holds is what mapping the stored events gives, a function of the
stored event and of the code alone. The relay puts in what it published, `ops_events` what it
mapped; `ranges` says which positions it holds in full (a position with no row is a gap of the
notification log, or an event nothing is published of). It holds the fingerprint of the code that
made it (`code_fingerprint`): a service whose mapping code differs finds it empty, so a changed
mapping or upcaster never serves an envelope that the running code would not make; after such a
release the first replay maps and keeps, the next ones read. One SQLite file per instance of a
service, whatever its event store (var/<service>-published.db): each instance fills its own.
"""
import hashlib
import json
import logging
import sqlite3
import sys
import threading
from contextlib import contextmanager, suppress
from importlib.metadata import version
from pathlib import Path

from .sealing import PersonSeal

# Each row is sealed with its place as AEAD associated data: its position, its count, and its
# neighbours in the range it was put with (`previous`, `following`: a row's position, or -1 - the
# bound of that range where it has none). A row moved to another position, or one whose
# neighbour was deleted, breaks the chain or fails to decrypt: the log is then forgotten, like a
# damaged one, and the events are mapped again (a replay or a rebuild never misses one unnoticed).
# A row holding personal data (contracts/personal.py) is sealed inside with the key of each person it
# names (`persons`, their user ids), so that erasing one shreds it in every copy of the file: such a
# row reads as not held, and its events are mapped again (to `[已删除]`) and kept anew.
SCHEMA = """
DROP TABLE IF EXISTS envelopes;
DROP TABLE IF EXISTS chained;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kept (position INTEGER PRIMARY KEY, count INTEGER NOT NULL, previous INTEGER NOT NULL,
                                 following INTEGER NOT NULL, persons TEXT NOT NULL, sealed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ranges (after INTEGER PRIMARY KEY, upto INTEGER NOT NULL,
                                   last INTEGER NOT NULL, mark BLOB NOT NULL);
"""
log = logging.getLogger(__name__)
_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

_fingerprints = {}


def mark_of(notification):
    """(position, mark) of a stored event: a digest of its stored bytes, which differ for every
    event ever written (its state is encrypted with a nonce of its own)."""
    return notification.id, hashlib.blake2b(notification.state, digest_size=16).digest()


def stored_mark(app, position):
    """The mark of the event `app`'s store holds at `position`, or None when it holds none there."""
    found = app.recorder.select_notifications(start=position, limit=1)
    return mark_of(found[0])[1] if found and found[0].id == position else None


def _bound(position):
    return -1 - position


def _place(position, count, previous, following):
    """The associated data of a row: where it is, and what is next to it."""
    return f"eport-published:{position}:{count}:{previous}:{following}".encode()


def _chained(before, after):
    """Whether row `after` (position, count, previous, following) may follow row `before` in the table."""
    if before is None:
        return after[2] < 0  # the first row held: put first of its range
    # neighbours when either was put with the other (ranges put again overlap the ones held), or
    # each ends the range it was put with and the next one began there
    return after[2] == before[0] or before[3] == after[0] or (before[3] < 0 and before[3] == after[2])


class BrokenChain(ValueError):
    """A row is not where it was put, or one next to it is gone."""


def text_of(envelope):
    """An envelope as the published log keeps it and a spliced reply carries it: compact JSON."""
    return _TEXT.encode(envelope)


def code_fingerprint(to_integration):
    """A digest of the code that maps a service's stored events to envelopes: the modules of the
    package that holds its `to_integration`, of contracts/ and of services/common/ (a service
    imports no other service: tests/unit/test_code_fingerprint.py), and the releases of
    eventsourcing (it decodes the stored events) and marshmallow (it dumps some payloads)."""
    import contracts

    from . import __file__ as common

    folders = (Path(sys.modules[to_integration.__module__].__file__).parent, Path(contracts.__file__).parent,
               Path(common).parent)
    if folders not in _fingerprints:
        digest = hashlib.sha256(f"{version('eventsourcing')} {version('marshmallow')}".encode())
        for folder in folders:
            for path in sorted(folder.rglob("*.py")):
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
        _fingerprints[folders] = digest.hexdigest()
    return _fingerprints[folders]


class PublishedLog:
    """`put(after, upto, items, last)` holds the envelopes of the positions (after, upto] (each
    item an envelope with its "position"; `last` the mark of the last event stored there);
    `read(after, stop, limit)` gives back what it holds from `after`.

    It must be of the event store beside it: a store restored from a backup, or replaced, holds
    other events at positions it held. So each range held keeps the mark of its last event, and a
    read checks it against the store (`stored(position)` gives the mark there); a range whose
    last event is not there any more, or another, means another store: it forgets everything.
    An event store only grows at its end, so the events before that last one are the same too.

    Several processes may share the file (instances of a service on one host, during an upgrade
    too): each checks, in the transaction of every read and write, that the file is of its own
    code; one of other code is neither read nor written (the last to open it makes it its own)."""

    def __init__(self, path, cipher, fingerprint, stored, keys=None):
        self._cipher, self._code, self._stored = cipher, fingerprint, stored
        self._persons = PersonSeal(keys)  # the service's per-person keys (services/common/person_keys.py)
        self._lock = threading.Lock()
        path = Path(path)
        try:
            self._open(path)
        except sqlite3.DatabaseError as exc:  # damaged: a cache is thrown away, not a reason not to start
            log.warning("the published log %s could not be opened (%s): it starts again empty", path.name, exc)
            for leftover in path.parent.glob(path.name + "*"):
                leftover.unlink()
            self._open(path)

    def _open(self, path):
        self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a cache: what a power cut takes is mapped again
        self._db.executescript(SCHEMA)
        with self._transaction("BEGIN IMMEDIATE"):
            if not self._mine():
                self._forget()

    @contextmanager
    def _transaction(self, begin="BEGIN"):
        with self._lock:
            self._db.execute(begin)
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _mine(self):
        row = self._db.execute("SELECT value FROM meta WHERE key = 'code'").fetchone()
        return row is not None and row[0] == self._code

    def _forget(self):
        self._db.execute("DELETE FROM kept")
        self._db.execute("DELETE FROM ranges")
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('code', ?)", (self._code,))

    def forget(self):
        """Hold nothing any more: a person was erased (services/common/erasure.py), and an envelope
        mapped before holds their data; the next replay maps the events again, their fields shredded."""
        with self._transaction("BEGIN IMMEDIATE"):
            self._forget()

    def put(self, after, upto, items, last):
        """The envelopes of (after, upto], in order, every one of those positions' (with
        "position"); `last`: (position, mark) of the last event stored in (after, upto], None
        when there is none (then nothing is held: no mark to check it by). Returns their JSON texts
        (UTF-8 bytes), one per position, as `read` gives them back, kept or not."""
        groups = []
        for item in items:
            if groups and groups[-1][0]["position"] == item["position"]:
                groups[-1].append(item)
            else:
                groups.append([item])
        texts = [",".join(text_of(item) for item in group).encode("utf-8") for group in groups]
        if upto <= after or last is None:
            return texts
        positions = [group[0]["position"] for group in groups]
        previous = [_bound(after), *positions[:-1]][:len(positions)]
        following = [*positions[1:], _bound(upto)][-len(positions):] if positions else []
        places = [(p, len(g), b, f) for p, g, b, f in zip(positions, groups, previous, following, strict=True)]
        rows = [(*place, *self._seal(place, group, text)) for place, group, text in zip(places, groups, texts,
                                                                                           strict=True)]
        try:
            with self._transaction("BEGIN IMMEDIATE"):
                if self._mine():
                    self._db.executemany("INSERT OR REPLACE INTO kept VALUES (?, ?, ?, ?, ?, ?)", rows)
                    self._cover(after, upto, last)
        except sqlite3.Error as exc:  # what it did not keep is mapped again when asked
            log.warning("the published log did not keep positions %d to %d (%s)", after + 1, upto, exc)
        return texts

    def _seal(self, place, group, text):
        """(persons, sealed) of one row: inside the store cipher, each person's key."""
        persons, inner = self._persons.seal(group, text, _place(*place))
        return ",".join(persons), self._cipher.encrypt(inner, _place(*place))

    def _cover(self, after, upto, last):
        """(after, upto] joins the ranges held, merged with those it touches; the merged range
        keeps the mark of the last event of the range that ends last."""
        touching = self._db.execute("SELECT after, upto, last, mark FROM ranges WHERE after <= ? AND upto >= ?",
                                    (upto, after)).fetchall()
        low = min([after] + [r[0] for r in touching])
        end = max([(upto, *last)] + [r[1:] for r in touching])
        self._db.executemany("DELETE FROM ranges WHERE after = ?", [(r[0],) for r in touching])
        self._db.execute("INSERT INTO ranges VALUES (?, ?, ?, ?)", (low, *end))

    def read(self, after, stop, limit):
        """None when position `after` is not held; else (texts, count, next): the `count` envelopes
        held after `after` up to `stop` at most, as JSON texts (UTF-8 bytes, as they are kept) of
        comma-separated envelopes, one per position; at least `limit` of them unless the range held
        or `stop` ended first; `next` is the last position they cover (to ask from next). A log it
        cannot read answers None too: the caller maps the events instead."""
        try:
            return self._read(after, stop, limit)
        except sqlite3.OperationalError as exc:  # busy or locked: this once the events are mapped
            log.warning("the published log could not be read (%s)", exc)
        except (sqlite3.DatabaseError, ValueError) as exc:  # damaged, moved, cut, or sealed with another key
            log.warning("the published log could not be read (%s): it starts again empty", exc)
            with suppress(sqlite3.Error), self._transaction("BEGIN IMMEDIATE"):
                self._forget()
        return None

    def _read(self, after, stop, limit):
        with self._transaction():
            held = self._db.execute("SELECT upto, last, mark, after FROM ranges WHERE after <= ? ORDER BY after DESC"
                                    " LIMIT 1", (after,)).fetchone()
            if held is None or held[0] <= after or not self._mine():
                return None
            stop = min(stop, held[0])
            before = self._db.execute("SELECT position, count, previous, following FROM kept WHERE position <= ?"
                                      " AND position > ? ORDER BY position DESC LIMIT 1", (after, held[3])).fetchone()
            rows = self._db.execute("SELECT position, count, previous, following, sealed, persons FROM kept"
                                    " WHERE position > ? AND position <= ? ORDER BY position LIMIT ?",
                                    (after, stop, limit)).fetchall()
        if self._stored(held[1]) != held[2]:
            log.warning("the published log is not of the event store beside it (restored or replaced?): "
                        "it starts again empty")
            with self._transaction("BEGIN IMMEDIATE"):
                self._forget()
            return None
        texts, count = [], 0
        for row in rows:
            if not _chained(before, row):
                raise BrokenChain(f"the row at position {row[0]} is not where it was put, or one next to it is gone")
            place = _place(*row[:4])
            text = self._persons.open(row[5], self._cipher.decrypt(row[4], place), place)
            if text is None:  # a person it names was erased: from here the events are mapped again
                return (texts, count, before[0]) if texts else None
            texts.append(text)
            count, before = count + row[1], row
            if count >= limit:
                return texts, count, row[0]
        if before is not None and 0 <= before[3] <= stop:  # the row after the last one held is gone
            raise BrokenChain(f"the row after position {before[0]} is gone")
        return texts, count, stop

    def held(self):
        """How many positions it holds (of this code's)."""
        with self._transaction():
            if not self._mine():
                return 0
            return self._db.execute("SELECT COALESCE(SUM(upto - after), 0) FROM ranges").fetchone()[0]

    def close(self):
        with self._lock:
            self._db.close()
