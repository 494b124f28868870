"""``ucc validate`` on a corpus of bad files: exit codes, one clear message, file:line problems."""

from pathlib import Path

import pytest

from ucc_research.cli import main

BAD = Path(__file__).parent / "bad_files"


def run(capsys, *argv):
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.csv", "file is empty"),
        ("binary.csv", "NUL bytes"),
        ("html_page.csv", "HTML"),
        ("cities_wrong_columns.csv", "missing column(s) 'city_id'"),
    ],
)
def test_unreadable_files_give_one_line_and_exit_2(capsys, name, message):
    code, out, err = run(capsys, "--kind", "cities", str(BAD / name))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(BAD / name) in err and message in err


def test_latin1_semicolon_decimal_comma_file_is_valid(capsys):
    code, out, _ = run(capsys, "--kind", "cities", str(BAD / "cities_latin1_semicolon.csv"))
    assert code == 0
    assert "OK" in out and "2 rows" in out
    assert "'cp1252'" in out and "';'" in out and "decimal ','" in out


def test_bad_cities_list_every_problem(capsys):
    f = BAD / "cities_bad.csv"
    code, out, _ = run(capsys, "--kind", "cities", str(f))
    assert code == 1
    assert f"{f}:3: column 'country': value 'ZZ': not a known ISO" in out
    assert f"{f}:3: column 'population': value '-5': must not be negative" in out
    assert f"{f}:4: column 'synthetic': value 'maybe': not a yes/no value" in out
    assert f"{f}:2: column 'city_id': value 'A': duplicate key (city_id); first on line 2" in out
    assert "INVALID: 3 of 3 rows" in out


def test_bad_requests_lines_count_quoted_newlines(capsys):
    f = BAD / "requests_bad.csv"
    code, out, _ = run(capsys, "--kind", "requests", str(f))
    assert code == 1
    assert f"{f}:3: column 'channel': value 'fax': not a known channel" in out
    assert f"{f}:4: column 'created_at': value '2024-13-45T10:00:00+01:00': not a date" in out
    assert f"{f}:5: column 'closed_at'" in out and "closed_at is before created_at" in out
    assert f"{f}:6: column 'city_id': value 'X|1': duplicate key (city_id, request_id)" in out
    # the record on lines 7-8 (a quoted newline in service_type) is valid
    assert ":7:" not in out and ":8:" not in out
    assert "INVALID: 5 of 6 rows" in out


def test_bad_panel_rules(capsys):
    f = BAD / "panel_bad.csv"
    code, out, _ = run(capsys, "--kind", "service_panel", str(f), "--max-problems", "3")
    assert code == 1
    lines = out.splitlines()
    assert lines[1].startswith(f"{f}:3: column 'digital_share': value '1.2': must be between 0")
    assert lines[2] == (
        f"{f}:3: column 'transactions_digital': value '120': "
        "transactions_digital is greater than transactions_total"
    )
    assert "... and 3 more problems" in out
    assert "INVALID: 3 of 4 rows" in out


def test_validate_writes_nothing(capsys, tmp_path):
    f = tmp_path / "c.csv"
    f.write_bytes((BAD / "cities_bad.csv").read_bytes())
    run(capsys, "--kind", "cities", str(f))
    assert [p.name for p in tmp_path.iterdir()] == ["c.csv"]


def test_excel_sheet_by_name(capsys, tmp_path):
    import pandas as pd

    f = tmp_path / "cities.xlsx"
    good = pd.DataFrame(
        {"city_id": ["A"], "name": ["a"], "country": ["PT"], "population": [5],
         "synthetic": [False], "source": ["t"]}
    )  # fmt: skip
    with pd.ExcelWriter(f) as xl:
        pd.DataFrame({"x": [1]}).to_excel(xl, sheet_name="readme", index=False)
        good.to_excel(xl, sheet_name="cities", index=False)
    code, out, _ = run(capsys, "--kind", "cities", str(f), "--sheet", "cities")
    assert code == 0 and "sheet 'cities'" in out
    code, _, err = run(capsys, "--kind", "cities", str(f), "--sheet", "nope")
    assert code == 2 and "has no sheet 'nope'; sheets: readme, cities" in err


HOSTILE = Path(__file__).parent / "hostile" / "raw"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("iMeta_cycle.csv", "cycle in the hierarchy: A -> B -> A"),
        ("iMeta_unknown_parent.csv", "Parent 'P2' of 'ind2' is not an aggregate code in iMeta"),
    ],
)
def test_imeta_hierarchy_is_checked_as_index_build_checks_it(capsys, tmp_path, name, reason):
    # the attack of issues 10 and 15: validate said OK to an iMeta that build refuses
    code, out, _ = run(capsys, "--kind", "iMeta", str(HOSTILE / name))
    assert code == 1
    assert f"{HOSTILE / name}: hierarchy: {reason} (ucc index build refuses it)" in out
    assert "INVALID: 0 of" in out and "1 of the table as a whole" in out
    # build's own words: the check is one function, not two copies
    demo = Path(__file__).resolve().parents[1] / "data" / "raw" / "demo"
    data = demo / "demo_synthetic_iData.csv"
    code = main(["index", "build", "--data", str(data), "--meta", str(HOSTILE / name),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and f"iMeta: {reason}" in capsys.readouterr().err


def test_imeta_levels_are_checked_and_a_good_hierarchy_passes(capsys, tmp_path):
    demo = Path(__file__).resolve().parents[1] / "data" / "raw" / "demo"
    code, out, _ = run(capsys, "--kind", "iMeta", str(demo / "demo_synthetic_iMeta.csv"))
    assert code == 0 and "OK" in out
    text = (demo / "demo_synthetic_iMeta.csv").read_text()
    # SUP one level too high for its children
    (tmp_path / "m.csv").write_text(text.replace("SUP,Online supply,2,UCI", "SUP,Online supply,3,"))
    code, out, _ = run(capsys, "--kind", "iMeta", str(tmp_path / "m.csv"))
    assert code == 1
    assert "hierarchy: Parent 'SUP' of 'sup_soph' is at Level 3; expected Level 2" in out
