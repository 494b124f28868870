"""Hostile raw files (issue 15): each attack is reproduced, then read safely or refused clearly.

The corpus is ``tests/hostile/raw`` (see its README); every file there must be in :data:`CASES`.
"""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ucc_research import config
from ucc_research.cleaning.prepare import prepare
from ucc_research.cleaning.readers import CUT_OFF, LINE, read_table
from ucc_research.cleaning.sources.egdi import adapt
from ucc_research.cli import main
from ucc_research.errors import DataFileError, SpecError

HOSTILE = Path(__file__).parent / "hostile" / "raw"
RAW = Path(__file__).resolve().parents[1] / "data" / "raw"

#: corpus file -> ("refused", text of the one-line error) or ("read", None) / ("validate", kind)
CASES = {
    "cities_cut_in_quotes.csv": (
        "refused",
        "the file ends inside a quoted field of record 3 (the header is record 1): it is cut off",
    ),
    "egdi-2014_cut_off.csv": ("read", None),
    "egdi-2018_cr_only.csv": ("read", None),
    "egdi-2018_mixed_line_ends.csv": (
        "refused",
        "mixed line ends: 94 line(s) end in a lone CR (the first is line 101) and 100 in LF",
    ),
    "egdi-2018_nul_padded.csv": (
        "refused",
        "line 195: NUL byte at byte 10244 (padding or binary data); not a text table",
    ),
    "iData_duplicate_key.csv": (
        "refused",
        "the header names a column more than once ('uCode' is column 1 and 4)",
    ),
    "iMeta_cycle.csv": ("validate", "iMeta"),
    "iMeta_unknown_parent.csv": ("validate", "iMeta"),
}


def test_every_corpus_file_has_its_expectation():
    assert sorted(p.name for p in HOSTILE.iterdir()) == sorted(CASES)


@pytest.mark.parametrize("name", [n for n, (what, _) in CASES.items() if what == "refused"])
def test_refused_with_one_line_naming_file_line_and_reason(name, capsys):
    with pytest.raises(DataFileError) as exc:
        read_table(HOSTILE / name)
    assert CASES[name][1] in str(exc.value)
    assert str(exc.value).startswith(str(HOSTILE / name))
    # the same through the command line: one line on stderr, exit 2 (a traceback before)
    code = main(["validate", "--kind", "iData", str(HOSTILE / name)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and CASES[name][1] in err


def test_cut_off_last_record_is_quarantined_not_kept(tmp_path):
    # the attack: the copy ends mid-number and "0.01725" was kept as 0.017
    src = HOSTILE / "egdi-2014_cut_off.csv"
    assert not src.read_bytes().endswith(b"\n")
    df, det = read_table(src)
    assert len(df) == 116 and df[LINE].iloc[-1] == 117
    assert det["n_rows"] == 117
    assert det["bad_lines"] == [{"line": 118, "reason": CUT_OFF}]
    assert "PRK" not in set(df["country-code"])
    # through the adapter: row conservation, and the reason in the quarantine
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "egdi", raw / "egdi")
    shutil.copy(src, raw / "egdi" / "egdi-2014.csv")
    result = adapt(raw)
    assert result.conservation_problems() == []
    f = "egdi/egdi-2014.csv"
    assert (result.rows_in[f], result.rows_kept[f]) == (117, 116)
    q = result.quarantine
    assert q.loc[q["file"] == f, ["line", "reason"]].values.tolist() == [
        [118, f"malformed record: {CUT_OFF}"]
    ]
    table = result.tables["egdi"]
    assert table.query("year == 2014 and iso3 == 'PRK'").empty
    # a complete file that merely lacks its last line end: the same record is kept once
    # the line end is added, as the reason says
    whole = (RAW / "egdi" / "egdi-2014.csv").read_bytes()
    (raw / "egdi" / "egdi-2014.csv").write_bytes(whole.rstrip(b"\n"))
    df, det = read_table(raw / "egdi" / "egdi-2014.csv")
    assert det["bad_lines"][0]["line"] == det["n_rows"] + 1
    (raw / "egdi" / "egdi-2014.csv").write_bytes(whole)
    df, det = read_table(raw / "egdi" / "egdi-2014.csv")
    assert det["bad_lines"] == [] and len(df) == det["n_rows"]


def test_cr_only_file_reads_as_its_lf_original(tmp_path, capsys):
    # the attack: CR-only line ends gave a csv.Error traceback in prepare and validate
    cr, det = read_table(HOSTILE / "egdi-2018_cr_only.csv")
    lf, _ = read_table(RAW / "egdi" / "egdi-2018.csv")
    pd.testing.assert_frame_equal(cr, lf)
    assert det["line_terminator"] == "CR"
    code = main(["validate", "--kind", "iData", str(HOSTILE / "egdi-2018_cr_only.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "missing column(s) 'uCode'" in err  # read fine; just not an iData
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "egdi", raw / "egdi")
    expected = adapt(raw).tables["egdi"]
    shutil.copy(HOSTILE / "egdi-2018_cr_only.csv", raw / "egdi" / "egdi-2018.csv")
    pd.testing.assert_frame_equal(adapt(raw).tables["egdi"], expected)


def test_mixed_line_ends_stop_prepare_with_one_line(tmp_path, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "egdi", raw / "egdi")
    shutil.copy(HOSTILE / "egdi-2018_mixed_line_ends.csv", raw / "egdi" / "egdi-2018.csv")
    out = tmp_path / "out"
    code = main(["prepare", "--raw", str(raw), "--out", str(out), "--only", "egdi"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "egdi/egdi-2018.csv: mixed line ends" in err and "(source 'egdi')" in err
    assert not out.exists()


def test_two_gigabytes_of_nul_padding_are_refused_at_the_first_block(tmp_path):
    # the attack: a 2 GB NUL run after the last record was accepted, at 6 GB of memory. A sparse
    # file costs no disk; the scan stops in the first block that holds a NUL.
    path = tmp_path / "padded.csv"
    body = (RAW / "egdi" / "egdi-2018.csv").read_bytes()
    with open(path, "wb") as fh:
        fh.write(body)
        fh.truncate(2 << 30)
    with pytest.raises(DataFileError, match=rf"line 195: NUL byte at byte {len(body)} "):
        read_table(path)


def test_an_endless_line_is_refused_while_scanning(tmp_path, monkeypatch):
    path = tmp_path / "endless.csv"
    with open(path, "wb") as fh:
        fh.write(b"a,b\n1,2\n")
        fh.write(b"x" * (3 << 20))  # 3 MB without a line end
        fh.write(b",3\n")
    monkeypatch.setenv("UCC_MAX_RECORD_MB", "2")
    with pytest.raises(DataFileError, match=r"line 3 has more than 2,097,152 bytes without"):
        read_table(path)
    monkeypatch.setenv("UCC_MAX_RECORD_MB", "4")
    df, _ = read_table(path)
    assert df[LINE].tolist() == [2, 3] and len(df["a"].iloc[1]) == 3 << 20


def test_duplicate_column_is_refused_by_prepare_too(tmp_path, capsys):
    # the attack: a key column twice was accepted by validate (pandas renamed it "uCode.1")
    raw = tmp_path / "raw"
    shutil.copytree(RAW / "egdi", raw / "egdi")
    f = raw / "egdi" / "egdi-2016.csv"
    lines = f.read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\n") + ",tii\n"
    f.write_text(
        "".join(line.rstrip("\n") + ",0.5\n" if i else line for i, line in enumerate(lines))
    )
    with pytest.raises(DataFileError, match=r"'tii' is column 8 and 9"):
        prepare(raw, tmp_path / "out", only=["egdi"])


@pytest.mark.parametrize("name", [n for n, (what, _) in CASES.items() if what == "validate"])
def test_invalid_content_is_reported_by_validate(name, capsys):
    code = main(["validate", "--kind", CASES[name][1], str(HOSTILE / name)])
    out = capsys.readouterr().out
    assert code == 1 and "hierarchy:" in out and "INVALID" in out


def test_a_file_too_large_to_read_whole_is_refused_up_front(tmp_path, monkeypatch, capsys):
    # a sparse 40 GB file, over the limit (by default a third of the machine's memory, which
    # must be a real number; 8 GB here so the test does not depend on this machine)
    path = tmp_path / "huge.csv"
    with open(path, "wb") as fh:
        fh.write(b"a,b\n1,2\n")
        fh.truncate(40 << 30)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert config.max_file_bytes() == total // 3
    monkeypatch.setenv("UCC_MAX_FILE_GB", "8")
    code = main(["validate", "--kind", "cities", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "huge.csv: is 40.0 GB" in err
    assert "over the limit of 8.0 GB" in err and "UCC_MAX_FILE_GB sets it" in err
    # the limit is a setting: a small one refuses a small file, naming it
    small = HOSTILE / "iData_duplicate_key.csv"
    monkeypatch.setenv("UCC_MAX_FILE_GB", "0.00000001")
    with pytest.raises(DataFileError, match=r"over the limit of 0\.0 GB"):
        read_table(small)
    monkeypatch.setenv("UCC_MAX_FILE_GB", "lots")
    with pytest.raises(SpecError, match="UCC_MAX_FILE_GB='lots'"):
        read_table(small)
