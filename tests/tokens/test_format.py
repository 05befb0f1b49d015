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
