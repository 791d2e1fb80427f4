"""Valid, unique national identifiers made up for tests and for `eport demo`: an ID number, a
mobile and a USCC that pass contracts/validators.py's checks (check digits included)."""
import itertools
import os
import random

from contracts.validators import USCC_ALPHABET, id_check_digit, uscc_check_character

_rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "big"))
_seq = itertools.count(_rng.randrange(10_000_000))


def new_id_number(born="19900101", region="110105"):
    seq = f"{next(_seq) % 1000:03d}"
    # vary the birth day too so that more than 1,000 are unique
    day = f"{born[:6]}{(next(_seq) % 28) + 1:02d}"
    first17 = region + day + seq
    return first17 + id_check_digit(first17)


def new_mobile():
    return "1" + _rng.choice("3456789") + f"{_rng.randrange(10**9):09d}"


def new_uscc():
    first17 = "91" + "330000" + "".join(_rng.choice(USCC_ALPHABET) for _ in range(9))
    return first17 + uscc_check_character(first17)
