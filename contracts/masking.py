"""How PII is shown wherever it leaves a service: masked, never in clear."""


def mask_id_number(value):
    """110105199001010021 -> 110105********002X style: keep the 6-digit region and last 4."""
    if not value:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_mobile(value):
    """13306506117 -> 133****6117."""
    if not value:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)
