"""VncKit's pure pieces: DES against the FIPS vectors, keysyms, addresses, regions and colours."""

from __future__ import annotations

import pytest

from VncKit.des import des_encrypt_block, vnc_auth_response
from VncKit.errors import VncError
from VncKit.framebuffer import Region, parse_colour, parse_region
from VncKit.keysyms import key_combo, keysym
from VncKit.rfb import _effective_version
from VncKit.screen import summary
from VncKit.transport import parse_target


@pytest.mark.parametrize(("key", "plain", "cipher"), [
    ("133457799BBCDFF1", "0123456789ABCDEF", "85E813540F0AB405"),
    ("0E329232EA6D0D73", "8787878787878787", "0000000000000000"),
    ("0101010101010101", "95F8A5E5DD31D900", "8000000000000000"),
])
def test_des_matches_known_vectors(key: str, plain: str, cipher: str) -> None:
    assert des_encrypt_block(bytes.fromhex(key), bytes.fromhex(plain)).hex().upper() == cipher


def test_vnc_auth_keys_des_with_bit_reversed_password() -> None:
    challenge = bytes(range(16))
    # "pass" reversed bit by bit: p=0x70->0x0e, a=0x61->0x86, s=0x73->0xce, padded with zeros
    key = bytes([0x0E, 0x86, 0xCE, 0xCE, 0, 0, 0, 0])
    expected = des_encrypt_block(key, challenge[:8]) + des_encrypt_block(key, challenge[8:])
    assert vnc_auth_response("pass", challenge) == expected
    assert vnc_auth_response("12345678-ignored", challenge) == vnc_auth_response("12345678", challenge)


def test_keysyms() -> None:
    assert keysym("Return") == 0xFF0D
    assert keysym("a") == 0x61
    assert keysym("F1") == 0xFFBE
    assert keysym("f12") == 0xFFC9
    assert keysym("0xff0d") == 0xFF0D
    assert key_combo("ctrl+alt+Delete") == [0xFFE3, 0xFFE9, 0xFFFF]
    assert key_combo("+") == [0x2B]
    assert keysym("€") == 0x01000000 + ord("€")
    with pytest.raises(VncError, match="Unknown key"):
        keysym("Nope")


def test_addresses() -> None:
    assert (parse_target("127.0.0.1:5901").host, parse_target("127.0.0.1:5901").port) == ("127.0.0.1", 5901)
    assert parse_target("vnc://desk:5905").port == 5905
    assert parse_target("desk", 5902).port == 5902
    assert parse_target("desk").port == 5900
    target = parse_target("wss://cp.example:8443/api/v1/vnc/s1")
    assert (target.scheme, target.port) == ("wss", 8443)
    target.token = "abc"
    assert target.ws_url().endswith("/api/v1/vnc/s1?token=abc")
    assert "abc" not in target.display
    target.token_header = "Authorization"
    assert target.ws_url().endswith("/s1")
    assert target.ws_headers() == ["Authorization: Bearer abc"]


def test_version_mapping() -> None:
    assert _effective_version(3, 8) == (3, 8)
    assert _effective_version(3, 889) == (3, 8)
    assert _effective_version(3, 7) == (3, 7)
    assert _effective_version(3, 5) == (3, 3)
    assert _effective_version(2, 0) is None


def test_regions_and_colours() -> None:
    assert parse_region("1,2,3,4", 10, 10) == Region(1, 2, 3, 4)
    assert parse_region(None, 10, 8) == Region(0, 0, 10, 8)
    with pytest.raises(VncError, match="does not fit"):
        parse_region("5,5,10,10", 10, 10)
    with pytest.raises(VncError, match="not a region"):
        parse_region("a,b", 10, 10)
    assert parse_colour("#FF0000") == (255, 0, 0)
    assert parse_colour("0,128,255") == (0, 128, 255)
    assert parse_colour("white") == (255, 255, 255)


def test_summary_median_and_p95() -> None:
    stats = summary([float(n) for n in range(1, 21)])
    assert stats["median"] == 10.5
    assert stats["p95"] == 19.0
    assert stats["n"] == 20
