"""Request bodies in Kubernetes protobuf (``application/vnd.kubernetes.protobuf``), decoded to JSON.

client-go 0.33+ typed clients (``kubernetes.NewForConfig``) send create/update/delete bodies of
built-in kinds as protobuf and accept JSON answers: a real API server must read them, so the
stand-in does. A body is the magic ``k8s\\0`` and a ``runtime.Unknown`` (``typeMeta`` 1, ``raw`` 2),
whose ``raw`` is the object's message. The wire schema of the served kinds (field numbers, JSON names,
omitempty/pointer/inline) is generated from k8s.io/api's Go types into ``protoschema.json`` by
``tests/clientgo/protoschema`` (a test checks it is current). The JSON made follows Go's encoding/json:
absent fields stay absent, zero scalars with ``omitempty`` are left out, a zero time is left out.
"""

from __future__ import annotations

import base64
import datetime
import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
SCALARS = {"string", "bytes", "bool", "int", "double"}


class ProtoError(ValueError):
    """A body that is not a Kubernetes protobuf message of a served kind."""


@cache
def schema() -> dict[str, Any]:
    return json.loads(Path(__file__).with_name("protoschema.json").read_text())


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object a protobuf request body stands for (with its ``apiVersion`` and ``kind``)."""
    if not body.startswith(MAGIC):
        raise ProtoError("a protobuf body must start with the Kubernetes magic bytes k8s\\0")
    unknown = _wire(body[len(MAGIC):])
    type_meta = _wire(_one(unknown, 1, b""))
    api_version = _one(type_meta, 1, b"").decode()
    kind = _one(type_meta, 2, b"").decode()
    # options (DeleteOptions) come with the group-version of the resource they are sent to
    root = schema()["roots"].get(f"{api_version}/{kind}") or schema()["roots"].get(f"v1/{kind}")
    if root is None:
        raise ProtoError(f"the stand-in cannot decode protobuf for {api_version} {kind}")
    return {"apiVersion": api_version, "kind": kind, **_message(_one(unknown, 2, b""), root)}


def _one(fields: dict[int, list[Any]], number: int, default: Any) -> Any:
    values = fields.get(number)
    return values[-1] if values else default


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtoError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _wire(data: bytes) -> dict[int, list[Any]]:
    """Field number -> values in order (int for varint/fixed, bytes for length-delimited)."""
    fields: dict[int, list[Any]] = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 2:
            size, at = _varint(data, at)
            value, at = data[at:at + size], at + size
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _int(value: Any) -> int:
    if isinstance(value, bytes):
        raise ProtoError("a number was sent as bytes")
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _int(value)
    if kind == "double":
        return struct.unpack("<d", value)[0]
    raise ProtoError(f"unknown scalar kind {kind}")


def _packed(kind: str, raw: bytes) -> list[Any]:
    values, at = [], 0
    while at < len(raw):
        if kind == "double":
            values.append(struct.unpack("<d", raw[at:at + 8])[0])
            at += 8
        else:
            value, at = _varint(raw, at)
            values.append(_scalar(kind, value))
    return values


def _time(raw: bytes, micro: bool) -> str | None:
    fields = _wire(raw)
    seconds, nanos = _int(_one(fields, 1, 0)), _int(_one(fields, 2, 0))
    if not seconds and not nanos:
        return None
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(nanos: int) -> str:
    """Go's time.Duration.String() for whole and fractional seconds (e.g. 1h0m0s, 1.5s)."""
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _special(kind: str, raw: bytes) -> Any:
    if kind in ("time", "microtime"):
        return _time(raw, kind == "microtime")
    fields = _wire(raw)
    if kind == "quantity":
        return _one(fields, 1, b"").decode()
    if kind == "duration":
        return _duration(_int(_one(fields, 1, 0)))
    if kind == "intorstring":
        return _one(fields, 3, b"").decode() if _one(fields, 1, 0) == 1 else _int(_one(fields, 2, 0))
    if kind == "raw":
        data = _one(fields, 1, b"")
        try:
            return json.loads(data) if data else None
        except ValueError:
            return base64.b64encode(data).decode()
    return _message(raw, kind)


def _value(kind: str, value: Any) -> Any:
    return _scalar(kind, value) if kind in SCALARS else _special(kind, value)


def _message(data: bytes, type_name: str) -> dict[str, Any]:
    fields = schema()["types"].get(type_name)
    if fields is None:
        raise ProtoError(f"no protobuf schema for {type_name}")
    wire = _wire(data)
    out: dict[str, Any] = {}
    for number, name, kind, flags in fields:
        values = wire.get(number)
        if not values:
            continue
        if "m" in flags:
            entries = [_wire(entry) for entry in values]
            out[name] = {_one(e, 1, b"").decode(): _value(kind, _one(e, 2, b"" if kind not in ("int", "bool") else 0))
                         for e in entries}
        elif "l" in flags:
            items: list[Any] = []
            for value in values:
                if kind in SCALARS and kind not in ("string", "bytes") and isinstance(value, bytes):
                    items.extend(_packed(kind, value))
                else:
                    items.append(_value(kind, value))
            out[name] = items
        else:
            decoded = _value(kind, values[-1])
            if "i" in flags and isinstance(decoded, dict):
                out.update(decoded)
                continue
            if decoded is None or ("o" in flags and "p" not in flags and kind in SCALARS and not decoded):
                continue
            out[name] = decoded
    return out
