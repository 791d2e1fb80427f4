import re
import unicodedata

import pytest

from contracts import validators as v

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", ["11010519491231002X", "11010519491231002x", " 11010519491231002X "])
def test_resident_id_accepts_and_normalises(value):
    assert v.resident_id(value) == "11010519491231002X"


@pytest.mark.parametrize("value,why", [
    ("110105194912310021", "check digit"),
    ("11010519491231002", "18 characters"),
    ("110105194913310028", "date of birth"),
    ("1101051949123100AX", "17 digits"),
    ("", "18 characters"),
    (12345, "string"),
])
def test_resident_id_refuses(value, why):
    with pytest.raises(ValueError, match=why):
        v.resident_id(value)


def _with_check_digit(first17):
    return first17 + v.id_check_digit(first17)


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "30", "38", "40", "47", "55", "60", "66", "70", "80",
                                      "90", "99"])
def test_resident_id_refuses_a_province_gb_t_2260_does_not_name(province):
    with pytest.raises(ValueError, match="province"):
        v.resident_id(_with_check_digit(province + "010519900101002"))


@pytest.mark.parametrize("province", ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54", "61", "65", "71",
                                      "81", "82", "83"])
def test_resident_id_accepts_every_province(province):
    number = _with_check_digit(province + "010519900101002")
    assert v.resident_id(number) == number


@pytest.mark.parametrize("value", ["13306506117", "19912345678"])
def test_mobile_accepts(value):
    assert v.mobile(value) == value


@pytest.mark.parametrize("value", ["12306506117", "1330650611", "133065061178", "1330650611a", ""])
def test_mobile_refuses(value):
    with pytest.raises(ValueError):
        v.mobile(value)


@pytest.mark.parametrize("value", [
    "张三", "阿依古丽·买买提", "John Smith",
    "\U0002000B三", "王\U0002000B", "李·\U0002000B明",  # 𠀋 U+2000B, Extension B (names on ID cards)
    "\u3400明", "\U0002A700华", "\U0002B740华", "\U0002B820华", "\U0002CEB0华", "\U00030000华",  # A, C to G
    "\U00031350华", "\U0002EBF0华",  # H and I
    "\uF900华", "\U0002F800华",  # compatibility ideographs
])
def test_name_accepts(value):
    assert v.person_name(value) == value


@pytest.mark.parametrize("value", [
    "张", "x" * 31, "张三3", "·张三", "\U0002000B", "张三·",
    "김철수", "さくら", "サクラ", "张\u4DC0", "张\U0001F600", "张\u3007", "张\u2F00", "张\uFA6E",
    "张\U0002A6E0", "张\U0002FA1E", "张\uE000",  # Hangul, kana, a hexagram, an emoji, 〇, a radical, none, private
])
def test_name_refuses(value):
    with pytest.raises(ValueError):
        v.person_name(value)


def test_name_letters_are_the_ideographs_unicodedata_knows():
    """Every CJK ideograph Python's unicodedata names is a name's letter, and nothing it names
    otherwise is (what it does not know yet, Extensions H and I on Python 3.11, is let in)."""
    def ideograph(ch):
        return unicodedata.name(ch, "").startswith(("CJK UNIFIED IDEOGRAPH-", "CJK COMPATIBILITY IDEOGRAPH-"))

    letter = re.compile(f"[{v.NAME_LETTER}]")
    for code in range(0x2E80, 0x32400):
        ch = chr(code)
        if ideograph(ch):
            assert letter.fullmatch(ch), hex(code)
        elif letter.fullmatch(ch):
            assert unicodedata.category(ch) == "Cn", hex(code)  # unassigned to this unicodedata


def test_uscc_of_the_manual_is_valid():
    assert v.uscc("913300007458363392") == "913300007458363392"


@pytest.mark.parametrize("value,why", [
    ("913300007458363391", "check character"),
    ("91330000745836339", "18 characters"),
    ("91330000745836339I", "I"),
    ("9133000074583633O2", "O"),
    ("913300007458363z92", "z"),
    ("91330000745836S392", "S"),
])
def test_uscc_refuses(value, why):
    with pytest.raises(ValueError, match=why):
        v.uscc(value)


# -- the general checks and the collector ----------------------------------------------------------
def test_check_fields_reports_every_bad_field_at_once():
    from contracts.errors import ValidationFailed
    checks = {"name": (v.text(5), "  ab "), "code": (v.one_of(("a", "b")), "c"),
              "note": (v.optional(v.string(3)), None), "flag": (v.boolean, "yes"),
              "token": (v.string(3), "abcd")}
    with pytest.raises(ValidationFailed) as info:
        v.check_fields(checks)
    assert sorted(info.value.details) == ["code", "flag", "token"]
    assert info.value.details["code"] == ["Must be one of: a, b."]
    checks.update(code=(v.one_of(("a", "b")), "a"), flag=(v.boolean, False),
                  token=(v.string(3), " x "))
    assert v.check_fields(checks) == {"name": "ab", "code": "a", "note": None, "flag": False,
                                               "token": " x "}


@pytest.mark.parametrize("value, message", [(None, "Required."), ("   ", "Required."), (7, "Must be a string."),
                                            ("abcdef", "At most 5 characters.")])
def test_text_refuses_with_one_message_per_fault(value, message):
    from contracts.errors import ValidationFailed
    with pytest.raises(ValidationFailed) as info:
        v.check_field("f", v.text(5), value)
    assert info.value.details == {"f": [message]}


def test_optional_takes_what_is_missing_as_the_default():
    check = v.optional(v.one_of(("x",)), default="x", missing=(None, ""))
    assert check(None) == check("") == check("x") == "x"
    with pytest.raises(ValueError):
        v.optional(v.one_of(("x",)))("")


def test_canonical_uuid_takes_only_the_lower_case_hyphenated_spelling():
    import uuid
    value = str(uuid.uuid4())
    assert v.canonical_uuid(value) == value
    for spelling in (value.upper(), "{" + value + "}", "urn:uuid:" + value, value.replace("-", ""), f" {value}",
                     value[:-1] + "g", "", None, 42, "ent-1"):
        with pytest.raises(ValueError, match="canonical UUID"):
            v.canonical_uuid(spelling)
