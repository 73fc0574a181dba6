"""Deterministic, scalable, realistically messy OfficeRnD Flex seed data.

``generate(seed, scale, anchor)`` returns a :class:`Dataset`: plain dicts shaped like the
OfficeRnD Flex API v2 (see docs/officernd-sandbox.md for the shares of messy data).
The same seed, scale and anchor always give byte-identical data.

``detect_anomalies(records)`` recomputes the anomaly index from the data itself, so it stays
true after mutations.

Nested values (addresses, privacy settings, ...) may be shared between records to save
memory: callers must replace top-level keys, never mutate nested values in place.

Modules: ``vocabulary`` (resources, shares, names, plans), ``ids``, ``builders`` (one
record of each kind, shared with mutations), ``generate`` (the whole data set),
``anomalies`` (the messy-data index).
"""

from sandbox.officernd.seed.anomalies import (
    ANOMALY_KEYS,
    detect_anomalies,
    has_many_decimals,
    normalise_email,
    url_domain,
)
from sandbox.officernd.seed.builders import RecordBuilder
from sandbox.officernd.seed.generate import Dataset, generate
from sandbox.officernd.seed.ids import IdFactory
from sandbox.officernd.seed.vocabulary import (
    ADMIN_USER,
    MEMBER_STATUSES,
    RESOURCES,
    SHARES,
    TIMESTAMPED,
)

__all__ = [
    "ADMIN_USER", "ANOMALY_KEYS", "MEMBER_STATUSES", "RESOURCES", "SHARES", "TIMESTAMPED",
    "Dataset", "IdFactory", "RecordBuilder", "detect_anomalies", "generate",
    "has_many_decimals", "normalise_email", "url_domain",
]
