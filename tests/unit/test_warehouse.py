"""Pure value handling of the warehouse (no database): UTC datetimes, JSON text, URLs of
Airflow connections. Tests that touch a database are in tests/warehouse/."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from hubspot_sync.warehouse import KEY_LENGTH, dumps, to_utc, url_from_connection
from hubspot_sync.warehouse.schema import KEY


def test_to_utc():
    assert to_utc(None) is None and to_utc(float("nan")) is None and to_utc(pd.NaT) is None
    assert to_utc("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    assert to_utc(pd.Timestamp("2024-01-01 02:00", tz="Europe/Berlin")) == datetime(
        2024, 1, 1, 1, tzinfo=UTC)
    assert type(to_utc(pd.Timestamp("2024-01-01"))) is datetime
    with pytest.raises(TypeError):
        to_utc(3)


def test_dumps_handles_nan_numpy_and_dates():
    import numpy as np
    text_ = dumps({"a": float("nan"), "b": [math.inf], "c": np.int64(3),
                        "d": np.array([1, 2]), "e": datetime(2024, 1, 1, tzinfo=UTC)})
    assert json.loads(text_) == {"a": None, "b": [None], "c": 3, "d": [1, 2],
                                 "e": "2024-01-01T00:00:00+00:00"}



class _Conn:
    def __init__(self, conn_type, uri="", extra=None, host=None):
        self.conn_type, self._uri, self.extra_dejson, self.host = conn_type, uri, extra or {}, host

    def get_uri(self):
        return self._uri


def test_url_from_connection():
    pg = _Conn("postgres", "postgres://u:p%40ss@db:5432/wh?sslmode=require&__extra__=%7B%7D")
    assert url_from_connection(pg) == "postgresql+psycopg2://u:p%40ss@db:5432/wh?sslmode=require"
    assert url_from_connection(_Conn("generic", "x://", {"url": "sqlite:////tmp/a.db"})) == (
        "sqlite:////tmp/a.db")
    assert url_from_connection(_Conn("generic", "", {"sqlalchemy_url": "postgresql://h/db"})) == (
        "postgresql+psycopg2://h/db")
    assert url_from_connection(_Conn("sqlite", host="/data/w.db")) == "sqlite:////data/w.db"




def test_key_length_is_the_key_columns_length():
    assert KEY_LENGTH == 255 == KEY.length
