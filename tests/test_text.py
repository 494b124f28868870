"""The text-column shortcuts give exactly what the plain pandas expressions give."""

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ucc_research.cleaning.text import keep_rows, repeat_text, strip_text, take_text, text_is_unique

EDGE = ["", " ", "a", " a", "a ", "\ta", "a\n", "\u00a0a", "a\u2003", "é", "aé", "\x1fa", "~", None]
texts = st.lists(st.one_of(st.sampled_from(EDGE), st.text(max_size=6), st.none()), max_size=40)


def _plain_strip(s: pd.Series) -> pd.Series:
    t = s.astype("str").str.strip()
    return t.where(t != "", None).astype("str")


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(["str", "object"]), st.integers(0, 3))
def test_strip_text_is_the_pandas_trim(values, dtype, chunks):
    s = pd.Series(values, dtype=dtype)
    if dtype == "str" and chunks and len(values) > chunks:  # several arrow chunks, as read
        parts = np.array_split(np.arange(len(values)), chunks + 1)
        arr = pa.chunked_array(
            [pa.array([values[i] for i in p], type=pa.large_string()) for p in parts]
        )
        s = pd.Series(arr, dtype="str")
    pd.testing.assert_series_equal(strip_text(s), _plain_strip(s))


def test_strip_text_copies_nothing_when_nothing_changes():
    s = pd.Series(["a1", "b-2", None, "~x~"], dtype="str")
    assert strip_text(s).array is s.array  # the shortcut was taken
    assert strip_text(pd.Series(["a", "b "], dtype="str")).tolist() == ["a", "b"]


def test_sliced_arrays_are_read_at_their_offset():
    arr = pa.array([" x", "a", "b", None, "c "], type=pa.large_string()).slice(1, 3)
    s = pd.Series(arr, dtype="str")
    assert strip_text(s).array is s.array
    arr = pa.array(["a", "b", " c", "d"], type=pa.string()).slice(1, 3)  # 32-bit offsets
    assert strip_text(pd.Series(arr, dtype="str")).tolist() == ["b", "c", "d"]


@given(st.text(max_size=5), st.integers(0, 50))
def test_repeat_text(value, n):
    idx = pd.RangeIndex(10, 10 + n)
    pd.testing.assert_series_equal(
        repeat_text(value, n, idx, name="x"), pd.Series(value, index=idx, dtype="str", name="x")
    )


@given(st.lists(st.one_of(st.text(max_size=4), st.none()), min_size=1, max_size=6), st.data())
def test_take_text(labels, data):
    codes = np.array(data.draw(st.lists(st.integers(0, len(labels) - 1), max_size=30)), int)
    expected = pd.Series(np.asarray(labels, dtype=object)[codes], dtype="str")
    pd.testing.assert_series_equal(take_text(labels, codes), expected)


@given(
    st.lists(st.tuples(st.one_of(st.text(max_size=3), st.none()), st.floats(), st.booleans())),
    st.data(),
)
def test_keep_rows_is_boolean_indexing(rows, data):
    df = pd.DataFrame(
        {
            "t": pd.Series([r[0] for r in rows], dtype="str"),
            "x": [r[1] for r in rows],
            "when": pd.to_datetime([0] * len(rows), utc=True),
            "b": pd.array([r[2] for r in rows], dtype="boolean"),
        },
        index=np.arange(len(rows)) * 3,
    )
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))))
    keep = keep.astype(bool)
    pd.testing.assert_frame_equal(keep_rows(df, keep), df[keep].reset_index(drop=True))
    dup = df.set_axis(["a", "a", "w", "b"], axis=1)  # duplicate names: pandas does it
    pd.testing.assert_frame_equal(keep_rows(dup, keep), dup[keep].reset_index(drop=True))


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
