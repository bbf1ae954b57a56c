"""Reading the files ``grukit predict --data`` takes: a column of values (with or without
a header) and texts (one per line, or a .csv's 'text' column)."""

from __future__ import annotations

import pytest

from grukit.data.series import read_values
from grukit.data.text import read_texts


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("a.csv", "value\n1\n2.5\n", [1.0, 2.5]),
        ("b.csv", "1\n2.5\n3\n", [1.0, 2.5, 3.0]),  # no header: the first value is kept
        ("c.csv", "year,spots\n1700,5\n1701,11\n", [5.0, 11.0]),  # the last column
        ("d.csv", "value,year\n7,1700\n8,1701\n", [7.0, 8.0]),  # the 'value' column
        ("e.csv", "1700,5\n1701,11\n", [5.0, 11.0]),  # no header, two columns
        ("f.txt", "4\n\n5\n", [4.0, 5.0]),
        ("g.txt", "-1e3\n", [-1000.0]),
    ],
)
def test_a_column_of_values_reads_every_value(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text)
    assert read_values(tmp_path / name) == expected


def test_a_value_that_is_not_a_number_is_named(tmp_path):
    (tmp_path / "bad.csv").write_text("value\n1\nabc\n")
    with pytest.raises(ValueError, match="'bad.csv' holds a value that is not a number"):
        read_values(tmp_path / "bad.csv")


def test_texts_come_one_per_line_or_from_a_text_column(tmp_path):
    (tmp_path / "t.txt").write_text("good day\n\n  \nbad day\n")
    assert read_texts(tmp_path / "t.txt") == ["good day", "bad day"]
    (tmp_path / "t.csv").write_text('id,text\n1,"hello, world"\n2,bye\n')
    assert read_texts(tmp_path / "t.csv") == ["hello, world", "bye"]
    (tmp_path / "n.csv").write_text("id,words\n1,x\n")
    with pytest.raises(ValueError, match="'n.csv' has no 'text' column"):
        read_texts(tmp_path / "n.csv")
