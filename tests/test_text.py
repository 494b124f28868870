"""The hashed unique-key check gives exactly what pandas' ``Index.is_unique`` gives."""

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.text import text_is_unique


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["", "a", "a\x00", "ab", "18-00269879", "18-00269878", "x" * 70]),
            st.text(max_size=20),
            st.none(),
        ),
        max_size=40,
    ),
    st.integers(0, 3),
)
def test_text_is_unique_is_pandas_is_unique(values, chunks):
    s = pd.Series(values, dtype="str")
    if chunks and len(values) > chunks:  # several arrow chunks, as read
        parts = np.array_split(np.arange(len(values)), chunks + 1)
        s = pd.Series(
            pa.chunked_array([pa.array([values[i] for i in p], pa.large_string()) for p in parts]),
            dtype="str",
        )
    assert text_is_unique(s) == pd.Index(s).is_unique


def test_text_is_unique_on_many_shuffled_ids():
    ids = pd.Series([f"18-{i:08d}" for i in range(200_000)], dtype="str").sample(
        frac=1, random_state=1
    )
    assert text_is_unique(ids)
    assert not text_is_unique(pd.concat([ids, ids.iloc[[5]]]))
