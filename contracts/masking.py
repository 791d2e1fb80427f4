"""How PII is shown wherever it leaves a service: masked, never in clear."""

# what a personal field of an erased person reads as (services/common/sealing.py): shown as it is
ERASED = "[已删除]"


def mask_id_number(value):
    """110105199001010021 -> 110105********002X style: keep the 6-digit region and last 4."""
    if not value or value == ERASED:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_mobile(value):
    """13306506117 -> 133****6117."""
    if not value or value == ERASED:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)
