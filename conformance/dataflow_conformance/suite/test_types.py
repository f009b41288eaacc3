"""TYPE: every documented field type round-trips unchanged, through the API and in the database."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..testing.bulkdata import creating
from .support import as_utc, blocked_by, seed

AWARE = dt.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
FIELD_TYPES = {
    "text": str,
    "number": int,
    "ratio": float,
    "flag": bool,
    "moment": dt.datetime,
    "day": dt.date,
    "amount": Decimal,
    "doc": dict,
    "items": list,
}
TEXTS = [
    'O\'Brien said "hi"; DROP TABLE samples; --',
    "back\\slash \\n not a newline",
    "emoji 😀🎉 and CJK 漢字 and RTL שלום",
    "e\u0301 combining vs é precomposed",
    "  leading and trailing spaces  ",
    "Case",
    "tab\tnew\nline\r\nreturn",
    "%_ wildcards_%",
    "x" * 100_000,
]


def define_sample(db, *fields: str):
    """A model `Sample` (table `samples`) with just the named fields: a test binds only the types it
    checks, so one unsupported type fails its own tests and no other."""
    annotations = {name: FIELD_TYPES[name] for name in fields}
    return db.model(type("Sample", (), {"__annotations__": annotations, "__module__": __name__}))


def _roundtrip(flow, probe, values: dict) -> dict:
    """Create a record with `values`, then Read it back. The id comes from the table (the newest row),
    not from Create's output: what Create returns is CRUD's clause, not this one's."""
    flow.node("SampleCreateNode", values)
    (newest,) = probe.query("SELECT MAX(id) AS id FROM samples")
    return flow.node("SampleReadNode", {"id": newest["id"]})


@pytest.mark.clause("TYPE-001")
def test_text_round_trips(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "text")
    for text in TEXTS:
        read = _roundtrip(flow, probe, {"text": text})
        assert read["text"] == text, f"{text[:40]!r} came back as {read['text'][:40]!r}"
        assert type(read["text"]) is str
    assert [row["text"] for row in probe.rows("samples")] == TEXTS


@pytest.mark.clause("TYPE-002")
def test_int_and_bool_round_trip(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "number", "flag")
    for number in (0, -1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)):
        read = _roundtrip(flow, probe, {"number": number, "flag": False})
        assert read["number"] == number and type(read["number"]) is int
    for flag in (True, False):
        read = _roundtrip(flow, probe, {"number": 0, "flag": flag})
        assert read["flag"] is flag, f"{flag} came back as {read['flag']!r}"


@pytest.mark.clause("TYPE-003")
def test_float_round_trips_exactly(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "ratio")
    for ratio in (0.1, -2.5e-300, 1.7976931348623157e308, 5e-324, 123456.789012345678, -7.25):
        read = _roundtrip(flow, probe, {"ratio": ratio})
        assert repr(read["ratio"]) == repr(float(ratio)), f"{ratio!r} came back as {read['ratio']!r}"


@pytest.mark.clause("TYPE-004")
def test_aware_datetime_round_trips(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "moment")
    for moment in (
        AWARE,
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc),
        dt.datetime(2030, 6, 1, 0, 0, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
    ):
        read = _roundtrip(flow, probe, {"moment": moment})["moment"]
        assert isinstance(read, dt.datetime), f"got {type(read).__name__} {read!r}"
        assert read.tzinfo is not None and read.utcoffset() is not None, f"{read!r} lost its timezone"
        assert read == moment, f"{moment.isoformat()} came back as {read.isoformat()}"


@pytest.mark.clause("TYPE-005")
def test_date_round_trips(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "day")
    for day in (dt.date(2024, 2, 29), dt.date(1000, 1, 1), dt.date(9999, 12, 31)):
        read = _roundtrip(flow, probe, {"day": day})["day"]
        assert type(read) is dt.date and read == day, f"{day} came back as {read!r}"


@pytest.mark.clause("TYPE-006")
def test_decimal_round_trips(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "amount")
    for amount in (Decimal("0.1"), Decimal("-12345678.9012345678"), Decimal("99999999999999999999"), Decimal("0")):
        read = _roundtrip(flow, probe, {"amount": amount})["amount"]
        assert isinstance(read, Decimal), f"{amount} came back as {type(read).__name__} {read!r}"
        assert read == amount, f"{amount} came back as {read}"


@pytest.mark.clause("TYPE-007")
def test_json_round_trips(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "doc", "items")
    doc = {
        "name": "Zoë 😀",
        "n": 1,
        "f": 1.25,
        "neg": -3,
        "ok": True,
        "none": None,
        "nested": {"list": [1, "two", {"three": [3.0]}], "empty": {}},
        "quote": "a\"b'c",
    }
    items = [1, "a", None, False, {"k": [1, 2]}, [], 2.5]
    read = _roundtrip(flow, probe, {"doc": doc, "items": items})
    assert read["doc"] == doc and read["items"] == items


_printable_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _printable_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_printable_text, children, max_size=4),
    max_leaves=12,
)
VALUES = {  # a strategy per field
    "text": _printable_text,
    "number": st.integers(-(2**63), 2**63 - 1),
    "ratio": st.floats(allow_nan=False, allow_infinity=False),
    "flag": st.booleans(),
    "moment": st.datetimes(
        min_value=dt.datetime(1000, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=9, minutes=30))]),
    ),
    "day": st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)),
    "amount": st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4),
    "doc": st.dictionaries(_printable_text, _json_values, max_size=4),
    "items": st.lists(_json_values, max_size=4),
}


@pytest.mark.clause("TYPE-008")
@pytest.mark.parametrize("field", list(FIELD_TYPES))
def test_generated_values_round_trip(make_dataflow, probe, flow, field):
    define_sample(make_dataflow(), field)

    @settings(
        max_examples=10,
        derandomize=True,  # the same values on every run (and no replay of earlier failures):
        database=None,  # an expectations file can list what fails
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(value=VALUES[field])
    def check(value):
        read = _roundtrip(flow, probe, {field: value})[field]
        assert read == value, f"{field}: {value!r} came back as {read!r}"
        assert isinstance(read, type(value)), f"{field}: {type(value).__name__} came back as {type(read).__name__}"

    check()


@pytest.mark.clause("TYPE-010")
def test_automatic_timestamps_read_back_as_datetimes(make_dataflow, probe, flow):
    define_sample(make_dataflow(), "text")
    (row,) = seed(probe, flow.db, "samples", [{"text": "stamped"}])  # stamped by the probe, as datetimes
    with blocked_by("CRUD-002"):  # a read that fails says nothing about the representation
        read = flow.node("SampleReadNode", {"id": row["id"]})
    for field in ("created_at", "updated_at"):
        assert isinstance(read[field], dt.datetime), (
            f"{field} came back as {type(read[field]).__name__} {read[field]!r}"
        )


STORED = {"text": "Ünïcödé '; --", "number": -(2**40), "ratio": 0.1, "amount": Decimal("42.125"), "flag": True}
STORED |= {"doc": {"k": [1, "two", None], "nested": {"x": 1.5}}, "items": ["a", 1, {"b": False}]}
STORED |= {"moment": AWARE, "day": dt.date(2024, 2, 29)}


@pytest.mark.clause("TYPE-009")
def test_database_holds_what_the_api_returned(make_dataflow, probe, flow):
    define_sample(make_dataflow(), *FIELD_TYPES)
    created = _roundtrip(flow, probe, STORED)
    (row,) = probe.rows("samples")
    assert row["id"] == created["id"]
    _assert_stored(probe, row["id"], STORED)


@pytest.mark.clause("TYPE-009")
@pytest.mark.parametrize("node", ["BulkCreate", "BulkUpsert"])
def test_bulk_writes_store_each_type_as_written(make_dataflow, probe, flow, node):
    """A bulk path that skips the conversions of a single Create (a JSON document handed to the driver as it is,
    a datetime as the driver's default text, a Decimal through a float) stores other values than Create does.
    Two records with different values: a value converted once and reused for the next record is caught too,
    also where the two are equal in Python but not the same JSON (1 and True, False and 0). BulkUpsert inserts
    both (new keys)."""
    annotations = {"key": str} | {name: FIELD_TYPES[name] for name in FIELD_TYPES}
    indexes = {"indexes": [{"name": "uq_samples_key", "fields": ["key"], "unique": True}]}
    make_dataflow().model(
        type("Sample", (), {"__annotations__": annotations, "__dataflow__": indexes, "__module__": __name__})
    )
    first = STORED | {"key": "first"}
    second = STORED | {"key": "second", "number": 7, "amount": Decimal("-0.001"), "doc": {"other": [True]}}
    second |= {"items": ["a", True, {"b": 0}], "moment": AWARE + dt.timedelta(days=1, microseconds=1)}
    second |= {"day": dt.date(1999, 12, 31)}
    inputs = creating([first, second], 1000, flow)
    flow.node(f"Sample{node}Node", inputs | ({"conflict_on": ["key"]} if node == "BulkUpsert" else {}))
    rows = probe.query("SELECT id FROM samples ORDER BY number")  # the second record's number is the larger
    assert len(rows) == 2, f"{node} of 2 records left {len(rows)} rows"
    _assert_stored(probe, rows[0]["id"], first)
    _assert_stored(probe, rows[1]["id"], second)


def _assert_stored(probe, row_id, values: dict) -> None:
    """The row's values read through the probe equal `values`: the driver's values, no type mapping; JSON as
    the text stored, so that a document encoded twice (a JSON string holding JSON text) cannot pass for the
    document itself."""
    (row,) = probe.rows("samples", where="id = :id", id=row_id)
    text = probe.features.json_text_type
    (raw,) = probe.query(
        f"SELECT moment, day, CAST(doc AS {text}) AS doc, CAST(items AS {text}) AS items FROM samples WHERE id = :id",
        id=row_id,
    )
    assert row["text"] == values["text"] and row["number"] == values["number"]
    assert float(row["ratio"]) == values["ratio"]
    assert Decimal(str(row["amount"])) == values["amount"]
    assert row["flag"] in (True, 1) and row["flag"] is not False
    for field in ("doc", "items"):  # compared as JSON text: in Python, 1 == True and 0 == False
        assert _same_json(_json(raw[field]), values[field]), f"{field}: stored {raw[field]}, not {values[field]}"
    assert as_utc(_datetime(raw["moment"])) == values["moment"], f"stored {raw['moment']!r}, not {values['moment']}"
    assert _date(raw["day"]) == values["day"]


def _same_json(stored, written) -> bool:
    return json.dumps(stored, sort_keys=True) == json.dumps(written, sort_keys=True)


def _json(stored: str):
    """The document a JSON column's text holds (decoded once: text encoded twice stays a string)."""
    return json.loads(stored)


def _datetime(stored) -> dt.datetime:
    return dt.datetime.fromisoformat(stored) if isinstance(stored, str) else stored


def _date(stored) -> dt.date:
    return dt.date.fromisoformat(stored[:10]) if isinstance(stored, str) else stored
