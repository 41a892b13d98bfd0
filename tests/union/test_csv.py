"""union/csv.py: formula neutralising, and CSV streamed as an async iterator a chunk of rows at a time."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator

import pytest

from union.csv import CsvResponse, acsv_chunks, csv_lines, neutralise


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://evil")'])
def test_each_formula_start_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(("value", "cell"), [("ok=", "ok="), ("", ""), (None, ""), (42, "42"), (-3, "'-3")])
def test_other_values_are_written_as_they_are(value: object, cell: str) -> None:
    assert neutralise(value) == cell


def read(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_lines_neutralise_every_cell_header_included() -> None:
    rows = read("".join(csv_lines(["=name", "b"], [["=cmd", "a,b"], ["x", "@y"]])))
    assert rows == [["'=name", "b"], ["'=cmd", "a,b"], ["x", "'@y"]]


async def collect(header: list[str], source: object, chunk_rows: int) -> list[str]:
    return [chunk async for chunk in acsv_chunks(header, source, chunk_rows=chunk_rows)]  # type: ignore[arg-type]


def test_async_chunks_pull_rows_a_chunk_at_a_time() -> None:
    pulled: list[int] = []

    def source() -> Iterator[list[str]]:
        for i in range(7):
            pulled.append(i)
            yield [f"m{i}", "=x"]

    async def first_two() -> tuple[list[str], int, int]:
        stream = acsv_chunks(["pseudonym", "note"], source, chunk_rows=3)
        head = await anext(stream)
        before_rows = len(pulled)
        first = await anext(stream)
        after_first = len(pulled)
        rest = [chunk async for chunk in stream]
        return [head, first, *rest], before_rows, after_first

    chunks, before_rows, after_first = asyncio.run(first_two())
    # The header leaves before any row is read; the first chunk after reading three rows only.
    assert before_rows == 0 and after_first == 3
    assert len(chunks) == 4  # header, 3 + 3 + 1 rows
    rows = read("".join(chunks))
    assert rows[0] == ["pseudonym", "note"] and rows[1:] == [[f"m{i}", "'=x"] for i in range(7)]


def test_a_client_that_goes_away_closes_the_source() -> None:
    closed: list[bool] = []

    def source() -> Iterator[list[str]]:
        try:
            for i in range(100):
                yield [str(i)]
        finally:
            closed.append(True)

    async def read_one_chunk() -> None:
        stream = acsv_chunks(["n"], source, chunk_rows=10)
        await anext(stream)
        await anext(stream)
        await stream.aclose()

    asyncio.run(read_one_chunk())
    assert closed == [True]


def test_the_response_is_an_async_stream_and_reads_the_same_synchronously() -> None:
    response = CsvResponse(["a"], lambda: iter([["=1"], ["2"]]), filename="x.csv")
    assert response.streaming and response.is_async
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    assert read(b"".join(response).decode()) == [["a"], ["'=1"], ["2"]]
