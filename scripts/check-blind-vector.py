#!/usr/bin/env python3
"""Recomputes QuickPay's blind-voucher vector from docs/PROTOCOL.md 7.6 alone, with nothing but
Python's standard library: the key bytes and key id, the wallet's HKDF-derived prefix, PSS salt
and blinding factor, the 105-byte message, the voucher id, EMSA-PSS (SHA-384, MGF1-SHA-384),
the blinded message, the unblinded signature, and its RSASSA-PSS verification. The Swift code is
held to the same file by BlindVoucherVectorTests. Exit 1 on any difference.

    python3 scripts/check-blind-vector.py [Tests/QuickPayCoreTests/Vectors/quickpay-blind-voucher.json]
"""
import hashlib
import hmac
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "Tests/QuickPayCoreTests/Vectors/quickpay-blind-voucher.json"
v = {k: val for k, val in json.load(open(path)).items()}
h = bytes.fromhex
n, e = int(v["n"], 16), int(v["e"], 16)
k = (n.bit_length() + 7) // 8
failures = []


def check(name, computed):
    if computed != v[name]:
        failures.append(f"{name}: computed {computed[:32]}..., the vector says {v[name][:32]}...")


def labelled(label, data):
    """Canonical bytes: the ASCII label, one zero byte, then the fields (PROTOCOL.md 7.2)."""
    return label.encode() + b"\x00" + data


def hkdf_sha256(secret, info, length):
    """RFC 5869 HKDF with SHA-256, no salt (a zero-filled one), as 7.6 says."""
    prk = hmac.new(b"\x00" * 32, secret, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def mgf1(seed, length):
    out, counter = b"", 0
    while len(out) < length:
        out += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def emsa_pss(message, salt, em_bits):
    em_len = (em_bits + 7) // 8
    m_hash = hashlib.sha384(message).digest()
    hh = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - 48 - 2) + b"\x01" + salt
    masked = bytearray(a ^ b for a, b in zip(db, mgf1(hh, em_len - 48 - 1)))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + hh + b"\xbc"


# The key: denomination u16, length u16, valid_from i64, valid_until i64, expiry i64, modulus
# length u16, modulus, exponent length u16, exponent; its id the first 8 bytes of
# SHA-256("QuickPay/blind-key/v1" 0x00 || key bytes).
key_bytes = h(v["key_bytes"])
modulus_length = int.from_bytes(key_bytes[28:30], "big")
if int.from_bytes(key_bytes[30:30 + modulus_length], "big") != n:
    failures.append("key_bytes: the modulus is not the vector's n")
check("key_id", hashlib.sha256(labelled("QuickPay/blind-key/v1", key_bytes)).digest()[:8].hex())

# The message: version 1 || key id || receiver id zero-padded to 32 || root || owner key.
receiver = v["receiver"].encode()
message = bytes([1]) + h(v["key_id"]) + receiver + b"\x00" * (32 - len(receiver)) + h(v["root"]) + h(v["owner_key"])
check("message", message.hex())

# The wallet's randomness, from its stored secret.
secret = h(v["secret"])
prefix = hkdf_sha256(secret, b"QuickPay/blind/prefix/v1", 32)
salt = hkdf_sha256(secret, b"QuickPay/blind/salt/v1", 48)
check("prefix", prefix.hex())
check("salt", salt.hex())
check("voucher_id", hashlib.sha256(labelled("QuickPay/blind-voucher-id/v1", prefix + message)).digest()[:16].hex())

# Blind: m = EMSA-PSS(prefix || message), r from QuickPay/blind/r/v1/<k>, the first invertible.
m = int.from_bytes(emsa_pss(prefix + message, salt, n.bit_length() - 1), "big")
for attempt in range(8):
    r = int.from_bytes(hkdf_sha256(secret, f"QuickPay/blind/r/v1/{attempt}".encode(), k + 16), "big") % n
    try:
        inverse = pow(r, -1, n)
        break
    except ValueError:
        continue
check("blinded_message", (m * pow(r, e, n) % n).to_bytes(k, "big").hex())

# Finalize: s = z x r^-1 mod n, and s verifies as RSASSA-PSS over prefix || message.
s = int(v["blind_signature"], 16) * inverse % n
check("signature", s.to_bytes(k, "big").hex())
if pow(s, e, n) != m:
    failures.append("the unblinded signature does not verify (s^e mod n is not the PSS encoding)")

if failures:
    print("blind-voucher vector: FAIL\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"blind-voucher vector: every value recomputed from PROTOCOL.md 7.6 matches ({path})")
