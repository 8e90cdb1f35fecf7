"""Drives a running haystack-server through phable (the Python Haystack client), unchanged.

Usage: haystack_phable.py URI USER PASSWORD FORMAT MODE
FORMAT is "json" or "zinc"; MODE is "full" (every call of issue #17) or "persisted" (only
reads the priority array written by an earlier "full" run). Prints one JSON object of what the
calls returned; the Rust test (haystack_phable.rs) asserts on it.
"""

import json
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from phable import (
    AuthError,
    CallError,
    DateRange,
    DateTimeRange,
    Number,
    Ref,
    open_haystack_client,
)

NY = ZoneInfo("America/New_York")
DAT = Ref("hq.ahu1.dat")
FAN = Ref("hq.ahu1.fan")
SP = Ref("hq.sp")


def val(v):
    if isinstance(v, Number):
        return [float(v.val), v.unit]
    if v is None:
        return None
    return str(v)


def levels(grid):
    return [
        [int(r["level"].val), val(r.get("val")), r.get("who")]
        for r in grid.rows
        if r.get("val") is not None
    ]


def full(uri, user, password, fmt):
    out = {}
    try:
        with open_haystack_client(uri, user, password + "-wrong", content_type=fmt):
            out["wrong_password"] = "logged in"
    except AuthError:
        out["wrong_password"] = "AuthError"

    with open_haystack_client(uri, user, password, content_type=fmt) as client:
        out["about"] = client.about()["serverName"]
        out["read"] = client.read('site and dis=="Headquarters"')["id"].val
        out["read_all"] = len(client.read_all("point and his").rows)
        out["read_by_ids"] = [r["id"].val for r in client.read_by_ids([DAT, FAN]).rows]

        day = date(2024, 5, 31)
        one = client.his_read_by_ids([DAT], day)
        out["his_one"] = [len(one.rows), [c.name for c in one.cols]]
        many = client.his_read_by_ids([DAT, FAN], DateRange(day, day))
        out["his_many"] = [
            len(many.rows),
            [c.name for c in many.cols],
            [c.meta["id"].val for c in many.cols[1:]],
        ]
        start = datetime(2024, 5, 31, 10, 0, tzinfo=NY)
        dtr = client.his_read_by_ids([DAT, FAN], DateTimeRange(start, start + timedelta(hours=2)))
        out["his_datetime_range"] = len(dtr.rows)
        single = client.his_read_by_id(DAT, DateTimeRange(start, start + timedelta(hours=1)))
        out["his_single"] = len(single.rows)

        t0 = datetime(2024, 6, 2, 1, 0, tzinfo=NY)
        client.his_write_by_id(
            DAT,
            [
                {"ts": t0, "val": Number(99.5, "°F")},
                {"ts": t0 + timedelta(minutes=15), "val": Number(100)},
            ],
        )
        written = client.his_read_by_ids([DAT], date(2024, 6, 2))
        out["his_written"] = [val(r.get("v0")) for r in written.rows]
        try:
            client.his_write_by_id(DAT, [{"ts": t0, "val": Number(1, "kW")}])
            out["his_write_wrong_unit"] = "accepted"
        except CallError:
            out["his_write_wrong_unit"] = "CallError"

        client.point_write(SP, 16, Number(65, "°F"), who="phable-16")
        client.point_write(SP, 8, Number(72, "°F"), who="phable-8", duration=Number(1, "h"))
        out["point_array"] = levels(client.point_write_array(SP))
        rec = client.read_by_id(SP)
        out["cur_val"] = [val(rec.get("curVal")), val(rec.get("writeLevel"))]
        client.point_write(SP, 8, None)
        rec = client.read_by_id(SP)
        out["cur_val_after_auto"] = val(rec.get("curVal"))
    # The context manager called close: the token is no longer valid.
    try:
        client.about()
        out["after_close"] = "served"
    except Exception as e:  # urllib's HTTPError for the 401
        out["after_close"] = getattr(e, "code", type(e).__name__)
    return out


def persisted(uri, user, password, fmt):
    with open_haystack_client(uri, user, password, content_type=fmt) as client:
        return {
            "point_array": levels(client.point_write_array(SP)),
            "his_written": [
                val(r.get("v0")) for r in client.his_read_by_ids([DAT], date(2024, 6, 2)).rows
            ],
        }


def main():
    uri, user, password, fmt, mode = sys.argv[1:6]
    run = full if mode == "full" else persisted
    print(json.dumps(run(uri, user, password, fmt)))


if __name__ == "__main__":
    main()
