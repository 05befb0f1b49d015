import hashlib

import pytest

from tokens import format as token_format

VECTOR = "glsa_iNValIdinValiDinvalidinvalidinva_5b582697"


def test_grafana_known_vector_is_accepted():
    parsed = token_format.parse(VECTOR)
    assert parsed == token_format.ParsedToken(
        "glsa", "iNValIdinValiDinvalidinvalidinva", "5b582697"
    )


def test_checksum_is_little_endian_crc32():
    assert token_format.checksum("glsa_iNValIdinValiDinvalidinvalidinva") == "5b582697"


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "glsa_iNValIdinValiDinvalidinvalidinva_5b582698",  # checksum off by one
        "glsa_iNValIdinValiDinvalidinvalidinvX_5b582697",  # secret changed
        "glsa_iNValIdinValiDinvalidinvalidinva_5B582697",  # upper-case hex
        "glsa_short_5b582697",
        "glsa_iNValIdinValiDinvalidinvalidinva_5b582697 ",
        "GLSA_iNValIdinValiDinvalidinvalidinva_5b582697",
        "glsa_iNValIdinValiDinvalid-nvalidinva_5b582697",
        "eyJrIjoiYWJjIiwibiI6Im5hbWUiLCJpZCI6MX0=",
    ],
)
def test_malformed_or_bad_checksum_tokens_are_rejected(candidate):
    assert token_format.parse(candidate) is None


def test_generated_tokens_are_valid_distinct_and_well_formed():
    tokens = {token_format.generate("glsa") for _ in range(10_000)}
    assert len(tokens) == 10_000
    for token in tokens:
        parsed = token_format.parse(token)
        assert parsed is not None
        assert parsed.prefix == "glsa"
        assert len(parsed.secret) == 32
        assert set(parsed.secret) <= set(token_format.ALPHABET)


def test_prefix_is_configurable():
    token = token_format.generate("kh")
    assert token.startswith("kh_")
    assert token_format.parse(token).prefix == "kh"


def test_digest_is_sha256_hex_of_the_whole_string():
    assert token_format.digest(VECTOR) == hashlib.sha256(VECTOR.encode()).hexdigest()
    assert VECTOR not in token_format.digest(VECTOR)


def test_the_readmes_scanner_patterns_find_real_tokens_and_keys():
    """The regular expressions "If a token leaks" gives scanners match what Keyhouse issues,
    inside surrounding text, and not a token cut short."""
    import re
    from pathlib import Path

    from apikeys import format as key_format

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    patterns = dict(
        re.findall(r"^\| (Service-account token|Legacy API key) \| `([^`]+)`", readme, re.M)
    )
    token_re, key_re = patterns["Service-account token"], patterns["Legacy API key"]
    token = token_format.generate("glsa")
    key = key_format.generate("deploy bot ✓", 7)
    assert re.search(token_re, f"GRAFANA_TOKEN={token}\n").group(0) == token
    assert re.search(key_re, f'"key": "{key}"').group(0) == key
    assert re.search(token_re, token[:-1]) is None
    for rule in re.findall(r"regex = '''(.+)'''", readme):
        assert re.search(rule, f"x {token} y") or re.search(rule, f"x {key} y")
