"""Arrow types operators emit → types Spark and Iceberg store.

Operators may use the natural Arrow type (uint8 channels, float16 embeddings); Spark has no
unsigned or half types and Iceberg no fixed-size lists, so the engine widens losslessly here.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_WIDEN = {
    pa.int8(): pa.int32(),
    pa.int16(): pa.int32(),
    pa.uint8(): pa.int32(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.int64(),  # values ≥ 2^63 fail the safe cast: operators must emit int64 hashes
    pa.float16(): pa.float32(),
    pa.large_string(): pa.string(),
    pa.large_binary(): pa.binary(),
}


def storable_type(t: pa.DataType) -> pa.DataType:
    """The type a column of type ``t`` is stored as.

    >>> storable_type(pa.uint8())
    DataType(int32)
    >>> storable_type(pa.list_(pa.float16(), 4))
    ListType(list<item: float>)
    """
    if t in _WIDEN:
        return _WIDEN[t]
    if pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t) or pa.types.is_list(t):
        return pa.list_(storable_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, storable_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(storable_type(t.key_type), storable_type(t.item_type))
    return t


def storable_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, storable_type(f.type), f.nullable) for f in schema])


def to_storable(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast ``array`` to ``target`` (safe cast: overflow raises instead of wrapping)."""
    if array.type == target:
        return array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        # ``.values`` keeps the slots of null lists (``flatten`` drops them), so offsets stay aligned.
        size = array.type.list_size
        values = array.values.slice(array.offset * size, len(array) * size)
        offsets = pa.array(np.arange(0, (len(array) + 1) * size, size, dtype=np.int32))
        array = pa.ListArray.from_arrays(offsets, values, mask=array.is_null())
    return array.cast(target)
